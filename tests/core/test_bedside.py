"""The bedside headline follows the alarm model (and the bed's paced mark), not one window's class."""

import numpy as np

from core.bedside import headline
from core.results import WindowResult

NOISY_WINDOW = np.array([0.30, 0.05, 0.18, 0.47], np.float32)  # one window reads "Noisy 47 %"


def result(probs=NOISY_WINDOW, alarm=None, rr=None, paced=False):
    return WindowResult(0, 2048, 0.0, 0.01, np.asarray(probs, np.float32), np.zeros(16), np.zeros(2), 70.0,
                        alarm_probs=None if alarm is None else np.asarray(alarm, np.float32),
                        rr_probs=None if rr is None else np.asarray(rr), paced=paced)


def test_a_noisy_window_on_a_sinus_bed_reads_sinus_when_the_alarm_model_says_so():
    line = headline(result(alarm=[0.6, 0.02, 0.08, 0.3], rr=[0.95, 0.02, 0.03]), in_af=False)
    assert line.text == "Sinus rhythm" and line.short == "Sinus"
    assert line.context == "RR model (last 64 beats) + this window: p(AF) 2 %"


def test_an_open_af_episode_reads_af_and_a_leading_unconfirmed_af_reads_possible():
    assert headline(result(alarm=[0.2, 0.7, 0.05, 0.05], rr=[0.1, 0.8, 0.1]), in_af=True).text == \
        "Atrial fibrillation"
    line = headline(result(alarm=[0.2, 0.7, 0.05, 0.05], rr=[0.1, 0.8, 0.1]), in_af=False)
    assert line.text == "Possible AF" and line.context.startswith("not confirmed")


def test_where_the_alarm_input_leads_with_noise_it_says_signal_quality_not_a_rhythm():
    line = headline(result(alarm=[0.2, 0.1, 0.1, 0.6]), in_af=False)
    assert line.text == "Signal quality poor"
    assert line.context == "rhythm not read · this window (RR model waiting for 64 beats): p(AF) 10 %"


def test_a_paced_bed_reads_paced_and_says_why():
    line = headline(result(alarm=[0.2, 0.1, 0.6, 0.1], rr=[0.9, 0.05, 0.05], paced=True), in_af=False)
    assert (line.text, line.short) == ("Paced rhythm", "Paced")
    assert line.context.startswith("bed marked paced")
    assert headline(result(alarm=[0.1, 0.8, 0.05, 0.05], paced=True), in_af=True).short == "Paced AF"


def test_without_an_alarm_model_the_headline_follows_the_window():
    assert headline(result(probs=[0.1, 0.1, 0.7, 0.1]), in_af=False).text == "Other rhythm"
