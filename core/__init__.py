"""DACL Monitor: core package — signal I/O and streaming, no Qt and no training code.

records (open_record → EcgRecord, RecordError) · preprocess (Preprocessor, preprocess_record,
normalize_window) · ring (RingBuffer) · windowing (Windower, offline_windows) · sources (Source,
WfdbReplaySource, LslInletSource) · stream_cli (dacl-stream) · scheduler, events, heart_rate, headless.
"""
