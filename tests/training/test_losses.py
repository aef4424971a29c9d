import math

import pytest
import torch

from training.diffusion import DiffusionViews, GaussianViews, beta_schedule
from training.supcon import supcon_loss
from training.vae import FeatureVAE, train_vae


def test_supcon_matches_hand_computed_case():
    # e1=(1,0) and e2=(0,1) share class 0, e3=(-1,0) is alone in class 1 (no positive: not an anchor).
    # anchor 1: -log(e^0 / (e^0 + e^-1)); anchor 2: -log(e^0 / (e^0 + e^0)); tau = 1.
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    expected = 0.5 * (math.log(1 + math.exp(-1)) + math.log(2))
    assert supcon_loss(emb, torch.tensor([0, 0, 1]), temperature=1.0).item() == pytest.approx(
        expected, abs=1e-6
    )
    # temperature 0.5 doubles every similarity: anchor 1 -> log(1 + e^-2), anchor 2 -> log 2
    expected = 0.5 * (math.log(1 + math.exp(-2)) + math.log(2))
    assert supcon_loss(emb, torch.tensor([0, 0, 1]), temperature=0.5).item() == pytest.approx(
        expected, abs=1e-6
    )


def test_supcon_is_lower_when_classes_cluster():
    y = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0.0], [0.99, 0.141], [-1.0, 0.0], [-0.99, 0.141]])
    mixed = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.99, 0.141], [-0.99, 0.141]])
    assert supcon_loss(clustered, y, 0.1) < supcon_loss(mixed, y, 0.1)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_diffusion_views_have_the_schedule_mean_and_variance(kind):
    views = DiffusionViews(kind, steps=1000, t_min=1, t_max=1000)
    z0 = torch.linspace(-2, 2, 8, dtype=torch.float64)[None].repeat(40000, 1)
    for t in (1, 50, 400, 1000):
        ab = views.alpha_bar[t].item()
        zt = views.at(
            z0,
            torch.full((len(z0),), t),
            torch.randn(z0.shape, generator=torch.Generator().manual_seed(t), dtype=torch.float64),
        )
        torch.testing.assert_close(
            zt.mean(0), math.sqrt(ab) * z0[0], atol=4 * math.sqrt((1 - ab) / len(z0)) + 1e-9, rtol=0
        )
        torch.testing.assert_close(
            zt.var(0), torch.full((8,), 1 - ab, dtype=torch.float64), atol=0.03 * (1 - ab) + 1e-12, rtol=0
        )


def test_schedules_and_sampling():
    lin = beta_schedule("linear", 1000)
    assert lin[0].item() == pytest.approx(1e-4) and lin[-1].item() == pytest.approx(0.02)
    ab = DiffusionViews("cosine").alpha_bar
    assert ab[0] == 1 and bool((ab[1:] < ab[:-1]).all()) and ab[-1] < 1e-3
    views = DiffusionViews("linear", t_min=5, t_max=9)
    z, t = views.sample(torch.zeros(16, 4, 8), 3, torch.Generator().manual_seed(0))
    assert z.shape == (48, 4, 8) and int(t.min()) >= 5 and int(t.max()) <= 9
    g, tg = GaussianViews(0.5).sample(torch.zeros(1000, 4), 2, torch.Generator().manual_seed(0))
    assert g.std().item() == pytest.approx(0.5, rel=0.05) and int(tg.abs().sum()) == 0
    with pytest.raises(ValueError, match=r"t range \[0, 10\] must satisfy 1 <= t_min <= t_max <= 1000"):
        DiffusionViews(t_min=0, t_max=10)
    with pytest.raises(ValueError, match="unknown beta schedule 'quadratic'"):
        beta_schedule("quadratic", 10)


def test_vae_loss_falls_on_a_small_set():
    torch.manual_seed(0)
    basis = torch.randn(4, 40, 8)
    x = torch.einsum("nk,kcl->ncl", torch.randn(128, 4), basis) + 0.05 * torch.randn(128, 40, 8)
    vae = FeatureVAE(40, latent_channels=8, hidden=32)
    hist = train_vae(
        vae, x, epochs=40, batch=32, lr=3e-3, beta=1e-3, generator=torch.Generator().manual_seed(0)
    )
    assert hist[-1] < 0.3 * hist[0]
    assert vae(x).shape == (128, 8, 8)  # posterior mean z0 keeps the frame axis
