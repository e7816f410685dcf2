"""CSI tier helpers as pure functions: DFT beam codebooks and labels, the angular-delay form used for CSI
feedback, pilot patterns, and noise added at read time. Arrays: ``h`` is [N, T, A, S] complex64 (samples,
slots, BS antennas, subcarriers) with antennas ordered (polarisation, column, row) as Sionna's PanelArray."""

from __future__ import annotations

import numpy as np


def dft_codebook(rows: int, cols: int, num_beams: int) -> np.ndarray:
    """A 2D DFT codebook [num_beams, rows*cols] complex64 (unit-norm columns of a UPA), ``num_beams`` =
    rows*cols*oversampling split over the two axes; azimuth beams first. Raises on a size it cannot split."""
    n = rows * cols
    if num_beams < n or num_beams % n:
        raise ValueError(f"num_beams {num_beams} must be a multiple of rows*cols = {n}")
    over = num_beams // n
    ov_h = int(2 ** np.ceil(np.log2(over) / 2)) if rows > 1 else over
    ov_h = min(ov_h, over)
    ov_v = over // ov_h
    nh, nv = cols * ov_h, rows * ov_v
    uh = np.exp(2j * np.pi * np.outer(np.arange(nh), np.arange(cols)) / nh)  # [nh, cols]
    uv = np.exp(2j * np.pi * np.outer(np.arange(nv), np.arange(rows)) / nv)  # [nv, rows]
    # element index within a polarisation is col * rows + row (Sionna PanelArray order)
    cb = np.einsum("vr,hc->vhcr", uv, uh).reshape(nv * nh, rows * cols)
    return (cb / np.sqrt(n)).astype(np.complex64)


def best_beam(h: np.ndarray, rows: int, cols: int, num_beams: int) -> np.ndarray:
    """Index [N] int64 of the DFT beam with the most received power, summed over slots, subcarriers and both
    polarisations. h: [N, T, A, S] with A = rows*cols or 2*rows*cols."""
    n = rows * cols
    pols = h.shape[2] // n
    if pols * n != h.shape[2]:
        raise ValueError(f"antenna axis {h.shape[2]} is not a multiple of rows*cols = {n}")
    cb = dft_codebook(rows, cols, num_beams)
    # [N, T, P, n, S] -> beam-domain power [N, B]
    hp = h.reshape(h.shape[0], h.shape[1], pols, n, h.shape[3])
    y = np.einsum("bn,ktpns->kbtps", cb.conj(), hp)
    return np.argmax((np.abs(y) ** 2).sum(axis=(2, 3, 4)), axis=1).astype(np.int64)


def angular_delay(h_slot: np.ndarray, num_taps: int) -> np.ndarray:
    """Angular-delay form [N, A, num_taps] complex64 of one slot's response h_slot [N, A, S]: DFT over
    antennas, inverse DFT over subcarriers, keep the first ``num_taps`` delay taps (CsiNet's truncation)."""
    if num_taps > h_slot.shape[-1]:
        raise ValueError(f"num_taps {num_taps} exceeds the {h_slot.shape[-1]} subcarriers")
    ad = np.fft.ifft(np.fft.fft(h_slot, axis=1, norm="ortho"), axis=2, norm="ortho")
    return ad[:, :, :num_taps].astype(np.complex64)


def pilot_mask(num_slots: int, num_subcarriers: int, slot_every: int = 1, sc_every: int = 4,
               offset: int = 0) -> np.ndarray:
    """Comb pilot pattern [T, S] bool: pilots on every ``sc_every``-th subcarrier of every ``slot_every``-th slot."""
    m = np.zeros((num_slots, num_subcarriers), bool)
    m[::slot_every, offset::sc_every] = True
    return m


def add_noise(h: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """h plus complex white Gaussian noise at ``snr_db`` relative to each sample's mean power (read time only;
    stored data stays clean). h: [N, ...]."""
    p = np.mean(np.abs(h) ** 2, axis=tuple(range(1, h.ndim)), keepdims=True)
    sigma2 = p / 10 ** (snr_db / 10)
    noise = rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)
    return (h + np.sqrt(sigma2 / 2) * noise).astype(np.complex64)
