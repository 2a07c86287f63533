"""Shared fixtures: real (tiny or random) weights, temporary media, generated photos."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ml
from ml import runtime

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run beside
# one unless told it is safe (it is: the loop only waits on the browser).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Worker and server processes that tests start refuse to run without a secret key of their own
# (scripts/run-tests sets one per run; this covers a plain `pytest`).
os.environ.setdefault("COLORIA_SECRET_KEY", "tests-only-secret-key-" + os.urandom(16).hex())


@pytest.fixture(scope="session")
def random_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights directory with randomly initialised ECCV16 weights under the official filename.

    Random weights are a real network: its output is whatever those weights compute, which is
    what the tests need (a colour that is not zero), never a faked result.
    """
    import torch

    from ml.models.zhang import ECCV16
    from ml.weights import KNOWN_WEIGHTS

    directory = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    # Calibrated BatchNorm and sharpened 313-bin logits, so that the random network's colours
    # vary across the image instead of averaging out to near-grey.
    net = _calibrated_random(ECCV16(), lambda: (torch.rand(2, 1, 64, 64) * 100,))
    with torch.no_grad():
        net.model_out.weight.normal_(0, 0.3)
        net.model8[6].weight.mul_(30)
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save(state, directory / KNOWN_WEIGHTS["zhang-eccv16"].filename)
    return directory


def _calibrated_random(net, inputs_fn):
    """Random weights with BatchNorm statistics measured on random inputs (not the identity)."""
    import torch

    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(*inputs_fn())
    return net.eval()


@pytest.fixture(scope="session")
def hint_weights_dir(tmp_path_factory: pytest.TempPathFactory, random_weights_dir: Path) -> Path:
    """Like random_weights_dir, plus random SIGGRAPH17 weights (the colour-hint model)."""
    import torch

    from ml.models.zhang import SIGGRAPH17
    from ml.weights import KNOWN_WEIGHTS

    directory = tmp_path_factory.mktemp("hint-weights")
    for existing in random_weights_dir.iterdir():
        (directory / existing.name).symlink_to(existing)
    torch.manual_seed(1)

    def inputs():
        return (
            torch.rand(2, 1, 64, 64) * 100,
            torch.randn(2, 2, 64, 64) * 40,
            torch.rand(2, 1, 64, 64),
        )

    net = _calibrated_random(SIGGRAPH17(), inputs)
    with torch.no_grad():
        net.model_out[0].weight.mul_(5)
    torch.save(net.state_dict(), directory / KNOWN_WEIGHTS["zhang-siggraph17"].filename)
    return directory


@pytest.fixture
def hint_model(hint_weights_dir: Path) -> str:
    ml.configure(weights_dir=hint_weights_dir)
    return "zhang-siggraph17"


@pytest.fixture(scope="session")
def deoldify_weights_dir(
    tmp_path_factory: pytest.TempPathFactory, random_weights_dir: Path
) -> Path:
    """Like random_weights_dir, plus random DeOldify Artistic weights (official filename, fp16),
    with BatchNorm statistics and spectral-norm vectors settled on random inputs."""
    import torch

    from ml.models.deoldify import build_generator
    from ml.weights import known

    directory = tmp_path_factory.mktemp("deoldify-weights")
    for existing in random_weights_dir.iterdir():
        (directory / existing.name).symlink_to(existing)
    torch.manual_seed(2)
    net = _calibrated_random(build_generator("artistic"), lambda: (torch.randn(2, 3, 64, 64),))
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save({"model": state}, directory / known("deoldify-artistic").filename)
    return directory


@pytest.fixture
def deoldify_model(deoldify_weights_dir: Path) -> str:
    ml.configure(weights_dir=deoldify_weights_dir)
    return "deoldify-artistic"


# A BigColor small enough for tests: the official module tree at 1/12 of the width.
BIGCOLOR_TINY = {"channels": 8, "shared_dim": 16, "z_chunk": 4}


@pytest.fixture(scope="session")
def bigcolor_weights_dir(
    tmp_path_factory: pytest.TempPathFactory, random_weights_dir: Path
) -> Path:
    """Like random_weights_dir, plus a tiny random BigColor in both official forms: the full
    state_dict (EG_011.ckpt, batch-norm statistics and u0/sv0 settled on random photos) and a
    torch-ema state (EG_EMA_011.ckpt) whose averaged parameters differ from it."""
    import torch

    from ml.models.bigcolor import BigColor, BigColorConfig
    from ml.weights import known

    directory = tmp_path_factory.mktemp("bigcolor-weights")
    for existing in random_weights_dir.iterdir():
        (directory / existing.name).symlink_to(existing)
    torch.manual_seed(3)
    net = BigColor(BigColorConfig(**BIGCOLOR_TINY))
    config = net.config
    net.train()
    with torch.no_grad():
        for _ in range(8):
            net(
                torch.rand(2, 1, 64, 64),
                torch.randint(0, 1000, (2,)),
                torch.randn(2, config.z_dim) * 0.8,
            )
    net.eval()
    torch.save(net.state_dict(), directory / known("bigcolor").filename)
    generator = torch.Generator().manual_seed(4)
    shadow = [
        p.detach() + 0.05 * torch.randn(p.shape, generator=generator) for p in net.parameters()
    ]
    ema = {"decay": 0.999, "num_updates": 100, "shadow_params": shadow, "collected_params": None}
    torch.save(ema, directory / known("bigcolor-ema").filename)
    return directory


@pytest.fixture
def bigcolor_model(bigcolor_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The official BigColor model, its network made tiny and its weights the random ones."""
    import dataclasses

    from ml import registry

    ml.configure(weights_dir=bigcolor_weights_dir)
    spec = registry.get_spec("bigcolor")
    tiny = dataclasses.replace(spec, options={**spec.options, **BIGCOLOR_TINY})
    monkeypatch.setitem(registry._REGISTRY, "bigcolor", tiny)
    return "bigcolor"


# DDColor's official module tree at a small size, for fast forward passes on a CPU.
DDCOLOR_MINI = {
    "depths": (1, 1, 1, 1),
    "dims": (8, 16, 32, 64),
    "nf": 32,
    "num_queries": 8,
    "dec_layers": 3,
    "hidden_dim": 16,
    "nheads": 2,
    "dim_feedforward": 32,
}


@pytest.fixture
def ddcolor_model(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """The official DDColor-T model, its network made small and its weights random, varying as
    a trained network's do (ml.models.ddcolor.vary_like_trained), with a non-zero bias on the
    last conv, so that the colour is clearly visible."""
    import dataclasses

    import torch

    from ml import registry
    from ml.models.ddcolor import build_ddcolor, vary_like_trained
    from ml.weights import known

    directory = tmp_path_factory.mktemp("ddcolor-weights")
    torch.manual_seed(4)
    net = vary_like_trained(build_ddcolor("tiny", **DDCOLOR_MINI).eval())
    with torch.no_grad():
        net.refine_net[0][0].bias.copy_(torch.tensor([18.0, -25.0]))
    torch.save({"params": net.state_dict()}, directory / known("ddcolor-tiny").filename)
    ml.configure(weights_dir=directory)
    spec = registry.get_spec("ddcolor-tiny")
    small = dataclasses.replace(spec, options={**spec.options, **DDCOLOR_MINI})
    monkeypatch.setitem(registry._REGISTRY, "ddcolor-tiny", small)
    return "ddcolor-tiny"


# The weights that ship in the repository, for the tests that check them.
SHIPPED_WEIGHTS_DIR = ml.config.SHIPPED_WEIGHTS_DIR


@pytest.fixture(autouse=True)
def _isolated_ml(random_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Every test sees only the random weights (not the shipped ones) and starts with no model
    loaded; tests of the shipped weights use SHIPPED_WEIGHTS_DIR explicitly."""
    previous = ml.config.settings, ml.config.SHIPPED_WEIGHTS_DIR
    ml.configure(weights_dir=random_weights_dir)
    ml.config.SHIPPED_WEIGHTS_DIR = tmp_path_factory.mktemp("no-shipped-weights")
    yield
    ml.config.settings, ml.config.SHIPPED_WEIGHTS_DIR = previous
    runtime.unload_all()


@pytest.fixture
def numba_refusing_its_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba.njit as where no place for its cache is writable (a read-only install, no writable
    home): it refuses `cache=True` (ml.numba_loops then compiles in each process)."""
    import numba

    real = numba.njit

    def refusing(*args, **options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'loop': no locator available")
        return real(*args, **options)

    monkeypatch.setattr(numba, "njit", refusing)


@pytest.fixture
def fresh_cache():
    """An empty cache before and after the test: rate limits and throttles count in it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fast_passwords(settings):
    """A fast password hasher, for tests that make many users (the real one is slow by design)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_photo(width: int = 96, height: int = 64, mode: str = "L", seed: int = 0) -> Image.Image:
    """A synthetic photo: smooth gradients plus noise, so every pipeline step has structure."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 0.5 + 0.35 * np.sin(x / width * 6.0) * np.cos(y / height * 4.0)
    channels = [
        np.clip(base + rng.normal(0, 0.05, base.shape) + shift, 0, 1) for shift in (0.1, 0, -0.1)
    ]
    rgb = np.stack(channels, axis=-1)
    image = Image.fromarray((rgb * 255).astype(np.uint8))
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


CHROMIUM = os.environ.get("COLORIA_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()
        yield page
        browser.close()


@pytest.fixture
def colorize_photos(settings, media_root, django_capture_on_commit_callbacks):
    """A factory: send generated photos through `job_submit` and run their jobs at once.

    Returns the Batch. Pass owner=<user> for a signed-in owner or session_key=... for an
    anonymous one (a test Client's session key, for the pages to recognise their owner).
    """
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.COLORIA_SYNC_JOBS = True

    def submit(*, owner=None, session_key="", model="zhang-eccv16", count=1, size=(64, 48),
               name="photo.png", params=None, content=None):  # fmt: skip
        """`content`: the bytes of the file to send (a generated PNG by default)."""
        names = [name] if count == 1 else [f"{i}-{name}" for i in range(count)]
        files = [
            SimpleUploadedFile(n, content or encode(make_photo(*size, seed=i)))
            for i, n in enumerate(names)
        ]
        from colorize.services import submission

        with django_capture_on_commit_callbacks(execute=True):
            return submission.job_submit(
                files=files, model_key=model, params=params, owner=owner, session_key=session_key
            )

    return submit


@pytest.fixture
def make_user(django_user_model):
    """A factory for users: make_user("ann"), make_user("mod", is_staff=True)."""

    def make(name: str, *, verified: bool = True, **extra):
        """`verified`: the account followed its email link (it has the account quota)."""
        from django.contrib.auth.models import Permission

        identity = {django_user_model.USERNAME_FIELD: f"{name}@example.com"}
        if django_user_model.USERNAME_FIELD != "email" and hasattr(django_user_model, "email"):
            identity["email"] = f"{name}@example.com"
        user = django_user_model.objects.create_user(**identity, password="pw-horse", **extra)
        if verified:
            user.user_permissions.add(Permission.objects.get(codename="full_daily_quota"))
        return user

    return make


@pytest.fixture
def api_client(db):
    """A factory: api_client(user) is a test Client that sends a new API token of that user;
    api_client() is an anonymous one."""
    from django.test import Client

    from accounts.services import token_create

    def make(user=None) -> Client:
        if user is None:
            return Client()
        _, key = token_create(user, "tests")
        return Client(headers={"Authorization": f"Token {key}"})

    return make


TOY_CATALOGUE = "tests.toy_family.catalogue"


@pytest.fixture
def toy_family(random_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The toy family (tests/toy_family) registered in this process as an extra catalogue, with
    its random weights installed beside the Zhang ones; unregistered afterwards. Worker processes
    get it from COLORIA_EXTRA_CATALOGUES=tests.toy_family.catalogue."""
    import importlib
    import sys

    from ml import catalogue, registry
    from ml.weights import KNOWN_WEIGHTS

    saved = dict(registry._REGISTRY), dict(registry._FAMILIES), dict(KNOWN_WEIGHTS)
    if TOY_CATALOGUE in sys.modules:
        importlib.reload(sys.modules[TOY_CATALOGUE])
    else:
        catalogue.load_module(TOY_CATALOGUE)
    directory = tmp_path_factory.mktemp("toy-weights")
    for existing in random_weights_dir.iterdir():
        (directory / existing.name).symlink_to(existing)
    family = registry.get_family("toy")
    registry.load_code(family.random_weights)(registry.get_spec("toy-slow"), directory)
    ml.configure(weights_dir=directory)
    yield directory
    live_tables = (registry._REGISTRY, registry._FAMILIES, KNOWN_WEIGHTS)
    for live, kept in zip(live_tables, saved, strict=True):
        live.clear()
        live.update(kept)
