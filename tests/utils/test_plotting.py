"""plot_bands: the PNG, and the drawn artists against the curves they were given."""

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from jaxml.utils.plotting import Band, Panel, plot_bands


def _two_by_two():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    a = Band(x, np.array([3.0, 2.0, 1.5, 1.0]), np.array([0.5, 0.25, 0.2, 0.1]), "a", {"lw": 2.4})
    b = Band(x, np.array([2.5, 2.2, 1.9, 1.7]), 0.3, "b")  # A scalar band is broadcast.
    panels = [
        [Panel((a, b), title="rmse", xlabel="n", ylabel="RMSE", legend=True), Panel((b,))],
        [Panel((a,), ylim=(0.0, 4.0)), Panel((a, b), log_y=True)],
    ]
    return panels, a, b


def test_plot_bands_writes_a_png(tmp_path):
    panels, _, _ = _two_by_two()
    fig = plot_bands(panels, tmp_path / "bands.png", title="t", panel_size=(3.0, 2.0), dpi=50)
    assert (tmp_path / "bands.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_allclose(fig.get_size_inches(), [6.0, 4.0])
    assert len(fig.axes) == 4


def test_band_polygon_is_mean_plus_minus_band(tmp_path):
    panels, a, b = _two_by_two()
    fig = plot_bands(panels, tmp_path / "bands.png")
    ax = fig.axes[0]
    for curve, line, fill in zip((a, b), ax.lines, ax.collections, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), curve.x)
        np.testing.assert_array_equal(line.get_ydata(), curve.mean)
        band = np.broadcast_to(curve.band, curve.x.shape)
        vertices = fill.get_paths()[0].vertices
        expected = np.concatenate(
            [np.stack([curve.x, curve.mean - band], 1), np.stack([curve.x, curve.mean + band], 1)]
        )
        # Every vertex lies on the lower or upper edge, and every edge point is a vertex.
        dist = np.abs(vertices[:, None, :] - expected[None, :, :]).sum(-1)
        np.testing.assert_allclose(dist.min(1), 0.0, atol=1e-12)
        np.testing.assert_allclose(dist.min(0), 0.0, atol=1e-12)
        # The band takes its line's colour.
        np.testing.assert_allclose(fill.get_facecolor()[0][:3], to_rgba(line.get_color())[:3])
    assert ax.lines[0].get_linewidth() == 2.4
    assert ax.get_title() == "rmse" and ax.get_xlabel() == "n" and ax.get_ylabel() == "RMSE"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert fig.axes[1].get_legend() is None
    assert fig.axes[2].get_ylim() == (0.0, 4.0)
    assert fig.axes[3].get_yscale() == "log"


def test_plot_bands_rejects_bad_shapes(tmp_path):
    short = Band([1.0, 2.0], [1.0, 2.0, 3.0], 0.1, "short")
    with pytest.raises(ValueError, match="band 'short': expected x and mean of one shape"):
        plot_bands([[Panel((short,))]], tmp_path / "x.png")
    with pytest.raises(ValueError, match="panels: expected rows of equal"):
        plot_bands([[Panel(())], [Panel(()), Panel(())]], tmp_path / "x.png")
