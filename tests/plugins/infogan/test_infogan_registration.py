"""Registration through the registry, recipe validation with key paths, and one hand-run training step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganforge_infogan
from ganforge import BuildContext, LatentSpec, StepView
from ganforge.errors import RecipeError
from ganforge.recipe.model import load_recipe, resolve

ROOT = Path(__file__).resolve().parents[3]

CAT = {"name": "c1", "kind": "categorical", "k": 10}
UNI = {"name": "c2", "kind": "uniform", "lambda": 0.1}


def problems(raw: dict, registry) -> list[tuple[str, str]]:
    with pytest.raises(RecipeError) as info:
        resolve(raw, registry, "test.toml")
    return info.value.problems


def paths(raw: dict, registry) -> list[str]:
    return [path for path, _ in problems(raw, registry)]


def test_everything_is_registered_by_the_infogan_plugin(registry) -> None:
    expected = {
        "latent_factor": {"categorical", "uniform", "gaussian"},
        "regularizer": {"mutual_information"},
        "generator": {"infogan_mnist"},
        "critic": {"infogan_mnist"},
        "method": {"infogan"},
    }
    for kind, names in expected.items():
        for name in names:
            entry = registry.get(kind, name)
            assert entry.plugin == "infogan" and entry.help
    assert not registry.warnings


def test_importing_the_plugin_and_validating_a_recipe_do_not_import_torch() -> None:
    code = (
        "import sys, ganforge.builtins, ganforge_infogan\n"
        "from ganforge.recipe.model import load_recipe\n"
        "from ganforge.registry import load_registry\n"
        "reg = load_registry(strict=True, entry_points=False,"
        " extra=[('infogan', ganforge_infogan), ('core', ganforge.builtins)])\n"
        f"load_recipe({str(ROOT / 'recipes' / 'infogan_mnist.toml')!r}, reg)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(ganforge_infogan.__file__).parents[1]), str(ROOT), env.get("PYTHONPATH", "")]
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_method_defaults_fill_in_the_papers_setup(registry, make_recipe) -> None:
    r = resolve(make_recipe(CAT, UNI), registry, "test.toml").recipe
    assert (r.generator.kind, r.critic.kind, r.objective.kind) == ("infogan_mnist", "infogan_mnist", "nonsaturating")
    assert [c.kind for c in r.regularizers] == ["mutual_information"]
    assert (r.optim.generator.lr, r.optim.critic.lr) == (1e-3, 2e-4)
    assert r.optim.generator.betas == r.optim.critic.betas == (0.5, 0.999)
    assert [(f.name, f.lam) for f in r.latent.factors] == [("c1", 1.0), ("c2", 0.1)]


def test_users_keys_win_over_method_defaults(registry, make_recipe) -> None:
    raw = make_recipe(CAT) | {"optim": {"critic": {"lr": 1e-4}}}
    raw["regularizers"] = [{"kind": "mutual_information", "trunk_gradient": False}]
    res = resolve(raw, registry, "test.toml")
    assert res.recipe.optim.critic.lr == 1e-4 and res.recipe.optim.generator.lr == 1e-3
    assert res.regularizers[0][1].trunk_gradient is False


@pytest.mark.parametrize(
    ("factor", "path"),
    [
        ({"name": "c1", "kind": "categorical", "k": 1}, "latent.factors[0].k"),
        ({"name": "c1", "kind": "categorical"}, "latent.factors[0].k"),
        ({"name": "c1", "kind": "categorical", "k": 3, "probs": [0.5, 0.5]}, "latent.factors[0].probs"),
        ({"name": "c1", "kind": "uniform", "low": 1.0, "high": -1.0}, "latent.factors[0].high"),
        ({"name": "c1", "kind": "gaussian", "std": 0.0}, "latent.factors[0].std"),
        ({"name": "c1", "kind": "gaussian", "posterior": "exact"}, "latent.factors[0].posterior"),
        ({"name": "c1", "kind": "uniform", "colour": "red"}, "latent.factors[0].colour"),
        ({"name": "c1", "kind": "dirichlet"}, "latent.factors[0].kind"),
    ],
)
def test_bad_factors_are_reported_at_their_key(registry, make_recipe, factor: dict, path: str) -> None:
    assert path in paths(make_recipe(factor), registry)


def test_unknown_factor_kind_lists_the_known_ones(registry, make_recipe) -> None:
    (msg,) = [m for p, m in problems(make_recipe({"name": "c1", "kind": "dirichlet"}), registry) if p.endswith("kind")]
    assert "categorical" in msg and "uniform" in msg and "gaussian" in msg


def test_duplicate_factor_names(registry, make_recipe) -> None:
    assert "latent.factors[1].name" in paths(make_recipe(CAT, dict(CAT)), registry)


def test_every_problem_is_reported_at_once(registry, make_recipe) -> None:
    raw = make_recipe({"name": "c1", "kind": "categorical", "k": 1}, {"name": "c2", "kind": "uniform", "high": -3.0})
    assert {"latent.factors[0].k", "latent.factors[1].high"} <= set(paths(raw, registry))


def test_method_check_needs_a_code_and_the_mi_regularizer(registry, make_recipe) -> None:
    assert "latent.factors" in paths(make_recipe(), registry)
    raw = make_recipe(CAT) | {"regularizers": []}
    (msg,) = [m for p, m in problems(raw, registry) if p == "regularizers"]
    assert "mutual_information" in msg


def test_bad_regularizer_options(registry, make_recipe) -> None:
    raw = make_recipe(CAT) | {"regularizers": [{"kind": "mutual_information", "hidden": 0, "trunk": True}]}
    assert {"regularizers[0].hidden", "regularizers[0].trunk"} <= set(paths(raw, registry))


def test_the_shipped_mnist_recipe_validates(registry) -> None:
    path = ROOT / "recipes" / "infogan_mnist.toml"
    assert path.read_text().startswith("# ganforge run recipes/infogan_mnist.toml")
    r = load_recipe(path, registry).recipe
    assert (r.latent.noise_dim, r.data.batch_size) == (62, 64)
    assert [(f.name, f.kind, f.lam) for f in r.latent.factors] == [
        ("c1", "categorical", 1.0), ("c2", "uniform", 0.1), ("c3", "uniform", 0.1)
    ]


def test_a_resolved_recipe_builds_and_runs_one_step(registry, make_recipe) -> None:
    """Build every component the way the engine does and run one critic and one generator step by hand."""
    res = resolve(make_recipe(CAT, UNI, {"name": "c3", "kind": "gaussian"}), registry, "test.toml")
    spec = LatentSpec(
        noise_dim=res.recipe.latent.noise_dim,
        factors=[entry.build(f.name, f.lam, opts) for f, entry, opts in res.factors],
    )
    assert spec.width == 8 + 10 + 1 + 1
    torch.manual_seed(0)
    ctx = BuildContext(image_shape=(1, 28, 28), spec=spec)
    gen = res.generator[0].build(res.generator[1], ctx)
    critic = res.critic[0].build(res.critic[1], ctx)
    ctx = BuildContext(image_shape=(1, 28, 28), spec=spec, critic_feature_width=critic.feature_width)
    (entry, opts), = res.regularizers
    reg = entry.build(opts, ctx)
    objective = res.objective[0].build(res.objective[1])

    latent = spec.sample(16, torch.Generator().manual_seed(0))
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    fake = gen(spec.generator_input(latent))  # (16, 1, 28, 28)
    # critic phase
    fake_d = fake.detach()
    f_fake, f_real = critic.features(fake_d), critic.features(real)
    terms = reg.critic_terms(StepView(phase="critic", step=0, spec=spec, latent=latent, fake=fake_d, fake_features=f_fake, real=real, real_features=f_real))
    d_loss = objective.critic_loss(critic.head(f_real), critic.head(f_fake)) + sum(terms.losses.values())
    d_loss.backward()
    assert torch.isfinite(d_loss) and all(p.grad is not None for p in reg.parameters())
    assert all(p.grad is None for p in gen.parameters())
    # generator phase
    f_fake = critic.features(fake)
    terms = reg.generator_terms(StepView(phase="generator", step=0, spec=spec, latent=latent, fake=fake, fake_features=f_fake))
    g_loss = objective.generator_loss(critic.head(f_fake)) + sum(terms.losses.values())
    g_loss.backward()
    assert torch.isfinite(g_loss) and all(p.grad is not None for p in gen.parameters())
    assert set(terms.logs) == {"L_I", "L_I/c1", "L_I/c2", "L_I/c3"}
