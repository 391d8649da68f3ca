"""precision_audit: ranges and headroom of one float32 step against float16, bfloat16, float8."""

from __future__ import annotations

import math
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from numdl.debug import AUDIT_FORMATS, precision_audit  # noqa: E402
from numdl.floats import format_info  # noqa: E402

pytestmark = pytest.mark.torch


class ExpHead(nn.Module):
    """exp of a linear layer whose outputs are set to 1, 12, 5 and 11.5."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.bias.copy_(torch.tensor([1.0, 12.0, 5.0, 11.5]))

    def forward(self, x):
        return torch.exp(self.fc(x))


def test_exp_overflows_float16_but_not_bfloat16():
    model = ExpHead()
    audit = precision_audit(model, torch.zeros(1, 4), lambda y: y.mean())
    assert [e.label for e in audit.flagged("float16", phase="forward")] == ["forward (model) exp"]
    assert audit.flagged("bfloat16") == []
    exp = next(e for e in audit.entries if e.phase == "forward" and e.op == "exp")
    assert exp.max_abs == pytest.approx(math.exp(12), rel=1e-6)
    f16 = exp.fit("float16")
    # exp(12) = 162755 and exp(11.5) = 98715 overflow float16; exp(11) would not.
    assert f16.overflow_fraction == 0.5
    assert f16.overflow_headroom_bits == pytest.approx(math.log2(65504) - 12 / math.log(2))
    assert exp.fit("bfloat16").overflow_fraction == 0
    assert exp.fit("bfloat16").overflow_headroom_bits == pytest.approx(
        math.log2(format_info("bfloat16").max) - 12 / math.log(2))
    # float8: e4m3fn (max 448) loses all but exp(1) and exp(5); e5m2 (max 57344) as float16.
    assert exp.fit("float8_e4m3fn").overflow_fraction == 0.5
    assert exp.fit("float8_e5m2").overflow_fraction == 0.5
    linear = next(e for e in audit.entries if e.phase == "forward" and e.op == "addmm")
    assert linear.module == "fc" and linear.module_type == "Linear"
    assert not linear.fit("float16").overflows
    report = audit.report
    for name in AUDIT_FORMATS:
        assert f"\n{name}: " in report
    assert "float16: overflows in forward (model) exp (50%)" in report
    assert "bfloat16: fits everywhere" in report


def test_backward_entries_are_gradients_with_a_feasible_float16_loss_scale():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    x, t = torch.randn(32, 8), torch.randn(32, 1)
    audit = precision_audit(model, x, lambda y: nn.functional.mse_loss(y, t))
    assert all(p.grad is None for p in model.parameters())  # .grad untouched
    back = [e for e in audit.entries if e.phase == "backward"]
    assert {e.module for e in back} >= {"0", "2", "(loss)"}
    ls = audit.loss_scale
    assert ls.feasible and ls.keep_fp32 == ()
    # The top of the interval is the largest power of two that keeps max|g| below 65520.
    k_hi = round(math.log2(ls.high))
    assert ls.max_abs * 2.0**k_hi < 65520 <= ls.max_abs * 2.0 ** (k_hi + 1)
    assert ls.low <= ls.high
    assert "[2^" in ls.message
    by_module = precision_audit(model, x, lambda y: nn.functional.mse_loss(y, t), by="module")
    assert {e.op for e in by_module.entries} == {""}
    assert len(by_module.entries) < len(audit.entries)


class Spread(nn.Module):
    """Gradients 1e6 and 1e-12: 66 binades, more than float16's 40."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))
        self.register_buffer("c", torch.tensor([1e6, 1e-12]))

    def forward(self, x):
        return self.w * self.c * x


def test_no_loss_scale_fits_a_gradient_spread_beyond_float16():
    audit = precision_audit(Spread(), torch.ones(2), lambda y: y.sum())
    ls = audit.loss_scale
    assert not ls.feasible
    assert ls.message.startswith("none: keep op mul")
    assert ls.keep_fp32 and ls.keep_fp32[0].startswith("mul")
    assert "float16 loss scale for the gradients: none" in audit.report


def test_figure_is_a_plotly_figure_of_the_ranges_against_the_limits():
    import plotly.graph_objects as go

    audit = precision_audit(ExpHead(), torch.zeros(1, 4), lambda y: y.mean())
    fig = audit.figure(phase="forward")
    assert isinstance(fig, go.Figure)
    (bar,) = fig.data
    labels = list(bar.y)
    assert "forward (model) exp" in labels
    k = labels.index("forward (model) exp")
    assert bar.base[k] + bar.x[k] == pytest.approx(12 / math.log(2))  # log2(exp(12))
    assert bar.marker.color[k] == "#d62728"  # red: does not fit float16
    assert len(fig.layout.shapes) == 2 * len(AUDIT_FORMATS)


def test_without_plotly_the_figure_names_what_to_install(monkeypatch):
    audit = precision_audit(ExpHead(), torch.zeros(1, 4), lambda y: y.mean())
    for name in ("plotly", "plotly.graph_objects"):
        monkeypatch.setitem(sys.modules, name, None)  # import of it raises ImportError
    with pytest.raises(ImportError, match=r"numdl\[tutorial\]"):
        audit.figure()
    assert audit.report  # the audit itself needs no plotly


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="by='layer'"):
        precision_audit(ExpHead(), torch.zeros(1, 4), lambda y: y.mean(), by="layer")
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        precision_audit(lambda x: x, torch.zeros(1), lambda y: y.sum())
    with pytest.raises(ValueError, match="scalar"):
        precision_audit(ExpHead(), torch.zeros(1, 4), lambda y: y)
