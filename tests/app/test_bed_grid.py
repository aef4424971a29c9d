"""Bed grid cells: a new result changes the text, never the layout (64 beds share one scene)."""

from app.widgets.bed_grid import BedGrid
from core.bedside import Headline


def test_a_new_result_does_not_move_any_cells_geometry(qtbot):
    grid = BedGrid()
    qtbot.addWidget(grid)
    grid.resize(800, 600)
    cells = [grid.add_bed(i, f"bed {i + 1}") for i in range(4)]
    grid.show()
    qtbot.waitExposed(grid)
    cells[0].set_result(Headline("Sinus rhythm", 0, "", "Sinus"), 7.0, alarm=False)
    qtbot.wait(50)
    before = [(c.plot.sceneBoundingRect(), c.hr_label.size(), c.class_label.size()) for c in cells]
    cells[0].set_result(Headline("Paced · atrial fibrillation", 1, "", "Paced AF"), 188.0, alarm=True)
    cells[1].set_result(Headline("Signal quality poor", 3, "", "Signal?"), float("nan"), alarm=False)
    qtbot.wait(50)
    after = [(c.plot.sceneBoundingRect(), c.hr_label.size(), c.class_label.size()) for c in cells]
    assert after == before
    assert "188" in cells[0].hr_label.text and "Paced AF" in cells[0].class_label.text
    assert "--" in cells[1].hr_label.text
