"""Fused sequence kernels for the EGRU and LSTM layers: hand-written BPTT.

The reference layers (:func:`neurosim.models.egru.egru_step`, the loop in
:class:`neurosim.models.lstm.LSTM`) let autograd record every elementwise
operation of every time step. Here one :class:`torch.autograd.Function` per
layer runs the whole ``[T, B, .]`` sequence: the forward pass stores the gate
activations, the backward pass walks the steps in reverse with the chain rule
written out, and the weight gradients are one ``[G*H, T*B] @ [T*B, H]``
product after the loop instead of ``T`` small ones. The maths is the same as
the reference (``tests/test_models_fused.py`` compares outputs and gradients
in float64); only the order of floating-point additions in the gradients
differs.

Both functions take the input projection ``gx = W_ih x + b_ih`` (``[T, B, G*H]``,
computed by the caller so autograd handles ``W_ih`` and DropConnect on
``weight_hh``) and return the full output sequence.
"""

from __future__ import annotations

import torch


def _egru_forward(gx, y0, c0, w_hh, b_hh, theta):
    T, B, G = gx.shape
    H = G // 3
    ys = gx.new_empty(T, B, H)
    es = gx.new_empty(T, B, H)
    us = gx.new_empty(T, B, H)
    rs = gx.new_empty(T, B, H)
    zs = gx.new_empty(T, B, H)
    hzs = gx.new_empty(T, B, H)
    cs = gx.new_empty(T + 1, B, H)  # cs[t]: state entering step t
    chs = gx.new_empty(T, B, H)
    y, c = y0, c0
    cs[0] = c0
    w_t = w_hh.t()
    for t in range(T):
        # same operations, in the same order, as egru.egru_step
        gh = torch.addmm(b_hh, y, w_t)
        xu, xr, xz = gx[t].chunk(3, dim=1)
        hu, hr, hz = gh.chunk(3, dim=1)
        u = torch.sigmoid(xu + hu)
        r = torch.sigmoid(xr + hr)
        z = torch.tanh(xz + r * hz)
        c_hat = u * c + (1.0 - u) * z
        e = (c_hat - theta > 0).to(gx.dtype)
        y = c_hat * e
        c = c_hat - theta * e
        ys[t], es[t], us[t], rs[t], zs[t], hzs[t], chs[t], cs[t + 1] = y, e, u, r, z, hz, c_hat, c
    return ys, es, cs, us, rs, zs, hzs, chs


class EGRUSequence(torch.autograd.Function):
    """``(gx, y0, c0, w_hh, b_hh, theta) -> (ys, es, c_T)`` for one EGRU layer."""

    @staticmethod
    def forward(ctx, gx, y0, c0, w_hh, b_hh, theta, gamma: float, eps: float):
        ys, es, cs, us, rs, zs, hzs, chs = _egru_forward(gx, y0, c0, w_hh, b_hh, theta)
        ctx.save_for_backward(y0, w_hh, theta, ys, es, cs, us, rs, zs, hzs, chs)
        ctx.gamma, ctx.eps = gamma, eps
        return ys, es, cs[-1].clone()

    @staticmethod
    def backward(ctx, d_ys, d_es, d_cT):
        y0, w_hh, theta, ys, es, cs, us, rs, zs, hzs, chs = ctx.saved_tensors
        T, B, H = ys.shape
        if d_ys is None:
            d_ys = torch.zeros_like(ys)
        if d_es is None:
            d_es = torch.zeros_like(es)
        # step-independent factors, vectorised over T
        pseudo = ctx.gamma * torch.clamp(1.0 - ctx.eps * (chs - theta).abs(), min=0.0)
        du_f = (cs[:-1] - zs) * us * (1.0 - us)  # d c_hat / d pre_u
        dz_f = (1.0 - us) * (1.0 - zs * zs)  # d c_hat / d pre_z
        dr_f = hzs * rs * (1.0 - rs)  # d pre_z / d pre_r
        dgh = ys.new_empty(T, B, 3 * H)
        dgx = ys.new_empty(T, B, 3 * H)
        d_tot = ys.new_empty(T, B, H)  # total gradient reaching the event e_t
        d_cn = ys.new_empty(T, B, H)  # gradient reaching c_t (the state leaving step t)
        dy = torch.zeros_like(y0)
        dc = torch.zeros_like(y0) if d_cT is None else d_cT
        for t in range(T - 1, -1, -1):
            dy = dy + d_ys[t]
            e = es[t]
            de = d_es[t] + dy * chs[t] - dc * theta
            dch = dy * e + dc + de * pseudo[t]
            d_tot[t] = de
            d_cn[t] = dc
            dpz = dch * dz_f[t]
            dpr = dpz * dr_f[t]
            dpu = dch * du_f[t]
            dgx[t, :, :H] = dpu
            dgx[t, :, H : 2 * H] = dpr
            dgx[t, :, 2 * H :] = dpz
            dgh[t, :, : 2 * H] = dgx[t, :, : 2 * H]
            dgh[t, :, 2 * H :] = dpz * rs[t]
            dc = dch * us[t]
            dy = dgh[t] @ w_hh
        y_prev = torch.cat([y0.unsqueeze(0), ys[:-1]], 0).reshape(T * B, H)
        flat = dgh.reshape(T * B, 3 * H)
        d_w = flat.t() @ y_prev
        d_b = flat.sum(0)
        d_theta = -(d_cn * es + d_tot * pseudo).sum((0, 1))
        return dgx, dy, dc, d_w, d_b, d_theta, None, None


def egru_sequence(gx, y0, c0, w_hh, b_hh, theta, gamma: float, eps: float):
    """Fused EGRU over a sequence: ``ys [T, B, H]``, ``(y_T, c_T)``, events ``[T, B, H]``."""
    ys, es, c_t = EGRUSequence.apply(gx, y0, c0, w_hh, b_hh, theta, gamma, eps)
    return ys, (ys[-1], c_t), es


def _lstm_forward(gx, h0, c0, w_hh, b_hh):
    T, B, G = gx.shape
    H = G // 4
    hs = gx.new_empty(T, B, H)
    cs = gx.new_empty(T + 1, B, H)
    gates = gx.new_empty(T, B, G)  # activated i, f, g, o
    h, c = h0, c0
    cs[0] = c0
    w_t = w_hh.t()
    for t in range(T):
        g = gx[t] + torch.addmm(b_hh, h, w_t)
        i, f, gg, o = g.chunk(4, dim=1)
        i, f, gg, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(gg), torch.sigmoid(o)
        c = f * c + i * gg
        h = o * torch.tanh(c)
        hs[t], cs[t + 1] = h, c
        gates[t, :, :H], gates[t, :, H : 2 * H], gates[t, :, 2 * H : 3 * H], gates[t, :, 3 * H :] = i, f, gg, o
    return hs, cs, gates


class LSTMSequence(torch.autograd.Function):
    """``(gx, h0, c0, w_hh, b_hh) -> (hs, c_T)`` for one LSTM layer."""

    @staticmethod
    def forward(ctx, gx, h0, c0, w_hh, b_hh):
        hs, cs, gates = _lstm_forward(gx, h0, c0, w_hh, b_hh)
        ctx.save_for_backward(h0, w_hh, hs, cs, gates)
        return hs, cs[-1].clone()

    @staticmethod
    def backward(ctx, d_hs, d_cT):
        h0, w_hh, hs, cs, gates = ctx.saved_tensors
        T, B, H = hs.shape
        if d_hs is None:
            d_hs = torch.zeros_like(hs)
        i, f, gg, o = gates.chunk(4, dim=2)
        tc = torch.tanh(cs[1:])
        dc_from_h = o * (1.0 - tc * tc)
        do_f = tc * o * (1.0 - o)
        di_f = gg * i * (1.0 - i)
        dg_f = i * (1.0 - gg * gg)
        df_f = cs[:-1] * f * (1.0 - f)
        dgates = hs.new_empty(T, B, 4 * H)
        dh = torch.zeros_like(h0)
        dc = torch.zeros_like(h0) if d_cT is None else d_cT
        for t in range(T - 1, -1, -1):
            dh = dh + d_hs[t]
            dc = dc + dh * dc_from_h[t]
            dgates[t, :, :H] = dc * di_f[t]
            dgates[t, :, H : 2 * H] = dc * df_f[t]
            dgates[t, :, 2 * H : 3 * H] = dc * dg_f[t]
            dgates[t, :, 3 * H :] = dh * do_f[t]
            dc = dc * f[t]
            dh = dgates[t] @ w_hh
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]], 0).reshape(T * B, H)
        flat = dgates.reshape(T * B, 4 * H)
        return dgates, dh, dc, flat.t() @ h_prev, flat.sum(0)


def lstm_sequence(gx, h0, c0, w_hh, b_hh):
    """Fused LSTM over a sequence: ``hs [T, B, H]``, ``(h_T, c_T)``, events ``(hs != 0)``."""
    hs, c_t = LSTMSequence.apply(gx, h0, c0, w_hh, b_hh)
    return hs, (hs[-1], c_t), (hs != 0).to(hs.dtype)
