"""trace_nonfinite: planted bugs in small PyTorch models, each found at the operation that made it.

Every model plants one bug on a line tagged ``# planted: <name>``; the tests assert the tracer
names that operation, that module, that phase and that line.
"""

from __future__ import annotations

import inspect
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from numdl.debug import NonfiniteError, trace_nonfinite  # noqa: E402

pytestmark = pytest.mark.torch


def planted_line(tag: str) -> int:
    lines = inspect.getsource(inspect.getmodule(planted_line)).splitlines()
    hits = [k + 1 for k, line in enumerate(lines) if line.rstrip().endswith(f"# planted: {tag}")]
    assert len(hits) == 1, tag
    return hits[0]


class LogAct(nn.Module):
    def forward(self, x):
        return torch.log(x)  # planted: log


class Block(nn.Module):
    def __init__(self, act: nn.Module, width: int = 8):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = act

    def forward(self, x):
        return self.act(self.fc(x))


class Net(nn.Module):
    def __init__(self, act: nn.Module, width: int = 8):
        super().__init__()
        self.block = Block(act, width)
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        return self.out(self.block(x))


class MaskedLog(nn.Module):
    """The classic backward-only NaN: where hides log's -inf in the forward, not in the backward."""

    def forward(self, x):
        return torch.where(x > 0, torch.log(x), 0.0)  # planted: where-log


class SqrtAct(nn.Module):
    def forward(self, x):
        return torch.sqrt(x)  # planted: sqrt


class NaiveSoftmax(nn.Module):
    def forward(self, x):
        e = torch.exp(x)  # planted: exp16
        return e / e.sum(dim=-1, keepdim=True)


def _set_fc(block: Block, bias: list[float]) -> None:
    """Make the block's linear layer output exactly `bias` (so the planted inputs are known)."""
    with torch.no_grad():
        block.fc.weight.zero_()
        block.fc.bias.copy_(torch.tensor(bias))


def test_forward_nan_log_of_negatives_is_found_at_log_in_its_module():
    torch.manual_seed(0)
    net = Net(LogAct(), width=4)
    _set_fc(net.block, [-0.31, 0.5, -2.0, 3.0])
    with trace_nonfinite(net) as trace:
        loss = net(torch.randn(6, 4)).sum()
        loss.backward()
    f = trace.first
    assert f is not None and len(trace.findings) == 1
    assert (f.op, f.name, f.phase, f.module, f.module_type) == (
        "aten.log.default", "log", "forward", "block.act", "LogAct")
    assert f.n_nan == 12 and f.n_posinf == f.n_neginf == 0 and f.shape == (6, 4)
    assert f.location.lineno == planted_line("log")
    assert f.location.line == "return torch.log(x)  # planted: log"
    (x,) = f.inputs
    assert (x.n_negative, x.min) == (12, pytest.approx(-2.0))
    assert "log received 12 negative value(s) (min -2)" in f.summary
    assert "clamp" in f.suggestion and "log_softmax" in f.suggestion
    # The consumers of the NaN (the output layer, the sum, the backward) only propagated it.
    assert trace.n_propagated > 0
    assert f.propagated > 0 and f.absorbed_by is None
    report = trace.report
    assert "forward: aten.log.default produced 12 NaN of 24 values (float32[6, 4])" in report
    assert "module: block.act (LogAct)" in report


def test_backward_only_nan_from_where_and_log_is_found_in_log_backward():
    net = Net(MaskedLog(), width=3)
    _set_fc(net.block, [0.0, 1.0, 2.0])  # log(0) = -inf, masked by where
    with trace_nonfinite(net) as trace:
        out = net(torch.randn(2, 3))
        assert torch.isfinite(out).all()  # the forward is clean ...
        out.sum().backward()
    assert torch.isnan(net.block.fc.bias.grad).any()  # ... the backward is not
    fwd, bwd = trace.by_phase("forward"), trace.by_phase("backward")
    assert len(fwd) == 1 and len(bwd) == 1
    # The forward -inf of log is recorded, and known to be absorbed by where.
    assert (fwd[0].name, fwd[0].n_neginf, fwd[0].module) == ("log", 2, "block.act")
    assert fwd[0].absorbed_by.startswith("where at ")
    # The NaN itself: 0 / 0 in log's backward (grad / x), attributed to the forward line.
    b = bwd[0]
    assert (b.op, b.phase, b.node, b.module) == (
        "aten.div.Tensor", "backward", "LogBackward0", "block.act")
    assert b.n_nan == 2
    assert b.location.lineno == planted_line("where-log")
    assert b.caused_by == trace.findings.index(fwd[0])
    assert "double-where" in b.suggestion
    assert "torch.log(torch.where(ok, x, 1.0))" in b.suggestion
    assert "masked in the forward but not in the backward" in b.summary


def test_infinite_gradient_of_sqrt_at_zero_is_found_where_detect_anomaly_blames_a_consumer():
    torch.manual_seed(0)
    net = Net(SqrtAct(), width=3)
    _set_fc(net.block, [0.0, 1.0, 4.0])
    x = torch.randn(4, 3)
    with trace_nonfinite(net) as trace:
        net(x).sum().backward()
    (f,) = trace.findings
    assert (f.op, f.phase, f.node, f.module, f.module_type) == (
        "aten.div.Tensor", "backward", "SqrtBackward0", "block.act", "SqrtAct")
    assert f.n_posinf + f.n_neginf == 4 and f.n_nan == 0
    assert f.location.lineno == planted_line("sqrt")
    assert "1/(2 sqrt(x)) is infinite at x = 0" in f.summary
    assert "sqrt(x + eps)" in f.suggestion
    # detect_anomaly ignores the infinity and stops at the first NaN, which the next node made
    # from it (inf - inf in the weight gradient of the linear layer): a consumer, not the cause.
    net.zero_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(RuntimeError, match="AddmmBackward0") as info, \
                torch.autograd.detect_anomaly():
            net(x).sum().backward()
    assert "SqrtBackward0" not in str(info.value)


def test_float16_overflow_in_a_hand_written_softmax_is_found_at_exp():
    torch.manual_seed(0)
    net = Net(NaiveSoftmax(), width=4).half()
    _set_fc(net.block, [12.0, 1.0, -3.0, 0.5])  # exp(12) = 162755 > 65504
    with trace_nonfinite(net) as trace:
        y = net(torch.randn(3, 4, dtype=torch.float16))
    assert torch.isnan(y).all()
    (f,) = trace.findings  # the division inf / inf = NaN only propagates it
    assert (f.op, f.phase, f.module, f.dtype) == (
        "aten.exp.default", "forward", "block.act", "float16")
    assert f.n_posinf == 3
    assert f.location.lineno == planted_line("exp16")
    assert "exp overflowed float16 (max 65504)" in f.summary
    assert "log(max) = 11.09" in f.summary
    assert "subtract the maximum" in f.suggestion
    assert trace.n_propagated >= 1


class Attention(nn.Module):
    def forward(self, scores, mask):
        masked = scores.masked_fill(mask, float("-inf"))  # planted: mask
        return torch.softmax(masked, dim=-1)


def test_masked_fill_with_minus_inf_is_reported_unless_allowed():
    scores = torch.randn(2, 4)
    mask = torch.tensor([[False, True, True, False], [False, False, True, False]])
    model = Attention()
    with trace_nonfinite(model) as trace:
        out = model(scores, mask)
    assert torch.isfinite(out).all()
    (f,) = trace.findings
    assert (f.name, f.n_neginf, f.location.lineno) == ("masked_fill", 3, planted_line("mask"))
    assert f.absorbed_by.startswith("_softmax") or f.absorbed_by.startswith("softmax")
    assert "allow={'masked_fill'}" in f.suggestion
    for allow in ({"masked_fill"}, {"aten.masked_fill.Scalar"},
                  lambda finding: finding.name == "masked_fill" and finding.n_nan == 0):
        with trace_nonfinite(model, allow=allow) as trace:
            model(scores, mask).sum()
        assert trace.findings == [] and trace.n_allowed == 1 and trace.ok


def test_raise_on_first_raises_inside_the_forward_at_the_producer():
    net = Net(LogAct(), width=2)
    _set_fc(net.block, [-1.0, 1.0])
    with pytest.raises(NonfiniteError) as info, trace_nonfinite(net, raise_on_first=True):
        net(torch.randn(1, 2))
    assert isinstance(info.value, FloatingPointError)
    assert info.value.finding.name == "log"
    assert "module: block.act (LogAct)" in str(info.value)
    # The hooks are gone and the dispatch mode is off after the exception.
    assert not net.block.act._forward_hooks and not net.block.act._forward_pre_hooks
    assert torch.isnan(net(torch.randn(1, 2))).all()


def test_raise_on_first_in_the_backward():
    net = Net(SqrtAct(), width=2)
    _set_fc(net.block, [0.0, 1.0])
    with trace_nonfinite(net, raise_on_first=True):
        loss = net(torch.randn(1, 2)).sum()
        with pytest.raises(NonfiniteError, match="SqrtBackward0"):
            loss.backward()


def test_check_inf_false_reports_nan_only():
    net = Net(SqrtAct(), width=2)
    _set_fc(net.block, [0.0, 1.0])
    with trace_nonfinite(net, check_inf=False) as trace:
        net(torch.randn(1, 2)).sum().backward()
    assert trace.ok and "no non-finite values were produced" in trace.report


def test_clean_model_has_no_findings_and_counts_operations():
    torch.manual_seed(0)
    net = Net(nn.Tanh(), width=4)
    with trace_nonfinite(net) as trace:
        net(torch.randn(3, 4)).sum().backward()
    assert trace.ok and trace.first is None
    assert trace.n_checked >= 8  # addmm, tanh, addmm, sum forward; their backward ops
    assert not any(m._forward_hooks for m in net.modules())


def test_module_mode_names_the_module_forward_and_backward():
    net = Net(LogAct(), width=4)
    _set_fc(net.block, [-0.31, 0.5, -2.0, 3.0])
    with trace_nonfinite(net, mode="module") as trace:
        net(torch.randn(6, 4)).sum().backward()
    f = trace.first
    assert (f.phase, f.module, f.module_type, f.op) == ("forward", "block.act", "LogAct",
                                                         "LogAct.forward")
    assert f.inputs[0].n_negative == 12
    # The module that called act is where the module-level line points.
    assert "self.act(self.fc(x))" in f.location.line

    net2 = Net(MaskedLog(), width=3)
    _set_fc(net2.block, [0.0, 1.0, 2.0])
    with trace_nonfinite(net2, mode="module") as trace:
        net2(torch.randn(2, 3)).sum().backward()
    (b,) = trace.findings
    assert (b.phase, b.module, b.module_type) == ("backward", "block.act", "MaskedLog")
    assert "gradient of the input" in b.summary
    assert not any(p._backward_hooks for p in net2.parameters())


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="mode='bogus'"):
        trace_nonfinite(nn.Tanh(), mode="bogus")
    with pytest.raises(ValueError, match="needs a model"):
        trace_nonfinite(mode="module")
    with pytest.raises(ValueError, match="max_findings"):
        trace_nonfinite(max_findings=0)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        trace_nonfinite(object())


def test_without_a_model_ops_are_still_traced():
    x = torch.tensor([1.0, -1.0])
    with trace_nonfinite() as trace:
        torch.sqrt(x)
    (f,) = trace.findings
    assert (f.name, f.module, f.n_nan) == ("sqrt", None, 1)
    assert "sqrt received 1 negative value(s)" in f.summary


def test_in_place_operation_inputs_are_checked_before_they_are_overwritten():
    x = torch.tensor([4.0, -1.0])
    with trace_nonfinite() as trace:
        x.log_()
    (f,) = trace.findings
    assert f.name == "log" and f.inputs[0].n_negative == 1 and f.inputs[0].min == -1.0
