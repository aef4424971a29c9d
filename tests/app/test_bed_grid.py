"""Bed grid cells: a new result changes the text, never the layout (64 beds share one scene)."""

import numpy as np

from app.widgets.bed_grid import BedGrid


def test_a_new_result_does_not_move_any_cells_geometry(qtbot):
    grid = BedGrid()
    qtbot.addWidget(grid)
    grid.resize(800, 600)
    cells = [grid.add_bed(i, f"bed {i + 1}") for i in range(4)]
    grid.show()
    qtbot.waitExposed(grid)
    cells[0].set_result(np.array([0.9, 0.05, 0.03, 0.02]), 7.0, alarm=False)
    qtbot.wait(50)
    before = [(c.plot.sceneBoundingRect(), c.hr_label.size(), c.class_label.size()) for c in cells]
    cells[0].set_result(np.array([0.01, 0.99, 0.0, 0.0]), 188.0, alarm=True)  # wider texts
    cells[1].set_result(np.array([0.25, 0.25, 0.25, 0.25]), float("nan"), alarm=False)
    qtbot.wait(50)
    after = [(c.plot.sceneBoundingRect(), c.hr_label.size(), c.class_label.size()) for c in cells]
    assert after == before
    assert "188" in cells[0].hr_label.text and "A 99%" in cells[0].class_label.text
    assert "--" in cells[1].hr_label.text
