"""Byte-level BPE (GPT-2 style) trained in pure Python, written as a Hugging Face tokenizer.json.

Layout of the vocabulary (V = vocab_size):
  ids 0..S-1          special tokens (added_tokens, special: true), S = len(SPECIALS)
  ids S..S+255        the 256 single bytes, in byte order, spelt with GPT-2's bytes_to_unicode
  ids S+256..V-1      merges, in the order they were learned (rank = id - S - 256)

Training: text is split on special tokens first (they never enter BPE), then pre-tokenized with
the exact regex transformers.js's ByteLevel pre-tokenizer uses. Merges are learned on unique
pre-tokens weighted by count, with incremental pair-count updates (only words that contain the
merged pair are touched). Ties break on the pair's symbol ids, so the result is deterministic.
`encode` applies merges by rank, as Hugging Face's BPE does, so Python and JS agree.
"""
import json
from collections import Counter, defaultdict

import regex

# The pattern in @huggingface/transformers' ByteLevel pre-tokenizer (GPT-2's).
PRETOKENIZE = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()


def split_specials(text, specials):
    """Yields (is_special, piece)."""
    pat = regex.compile("|".join(regex.escape(s) for s in specials))
    pos = 0
    for m in pat.finditer(text):
        if m.start() > pos:
            yield False, text[pos:m.start()]
        yield True, m.group(0)
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


def word_counts(docs, specials):
    c = Counter()
    for d in docs:
        for is_sp, piece in split_specials(d, specials):
            if not is_sp:
                c.update(PRETOKENIZE.findall(piece))
    return c


def train_bpe(counts, n_merges, log=print):
    """counts: Counter(pretoken str -> count). Returns merges: list of (a, b) byte strings."""
    words = []  # list of [symbols(list of bytes), count]
    for w, n in counts.items():
        words.append([[bytes([x]) for x in w.encode("utf-8")], n])
    pair_count = defaultdict(int)
    where = defaultdict(set)  # pair -> indices of words containing it
    for i, (sym, n) in enumerate(words):
        for a, b in zip(sym, sym[1:]):
            pair_count[(a, b)] += n
            where[(a, b)].add(i)
    merges = []
    for step in range(n_merges):
        if not pair_count:
            break
        best = max(pair_count.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pair_count[best] <= 0:
            break
        merges.append(best)
        a, b = best
        ab = a + b
        for i in list(where[best]):
            sym, n = words[i]
            # Remove this word's old pair counts, rebuild the word, add the new ones.
            for p in zip(sym, sym[1:]):
                pair_count[p] -= n
                if pair_count[p] <= 0:
                    del pair_count[p]
            out, j = [], 0
            while j < len(sym):
                if j + 1 < len(sym) and sym[j] == a and sym[j + 1] == b:
                    out.append(ab)
                    j += 2
                else:
                    out.append(sym[j])
                    j += 1
            words[i][0] = out
            for p in zip(out, out[1:]):
                pair_count[p] += n
                where[p].add(i)
        del where[best]
        if log and (step + 1) % 500 == 0:
            log(f"  bpe merge {step + 1}/{n_merges}: {ab!r}")
    return merges


def spell(bs):
    return "".join(B2U[x] for x in bs)


def build_tokenizer_json(merges, specials):
    S = len(specials)
    vocab = {s: i for i, s in enumerate(specials)}
    for x in range(256):
        vocab[spell(bytes([x]))] = S + x
    for a, b in merges:
        tok = spell(a + b)
        if tok in vocab:
            raise ValueError(f"merge {spell(a)!r}+{spell(b)!r} produced an existing token {tok!r}")
        vocab[tok] = len(vocab)
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(specials)]
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": bl,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        "decoder": bl,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": [[spell(a), spell(b)] for a, b in merges],
        },
    }


class Encoder:
    """Python encoder equal to the Hugging Face one for this tokenizer.json (used to tokenize the corpus)."""

    def __init__(self, tok_json):
        m = tok_json["model"]
        self.vocab = m["vocab"]
        self.ranks = {(a, b): i for i, (a, b) in enumerate(m["merges"])}
        self.specials = [t["content"] for t in tok_json["added_tokens"]]
        self.special_ids = {t["content"]: t["id"] for t in tok_json["added_tokens"]}
        self.cache = {}

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        sym = [B2U[x] for x in word.encode("utf-8")]
        while len(sym) > 1:
            best, bi = None, -1
            for i in range(len(sym) - 1):
                r = self.ranks.get((sym[i], sym[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            pair = (sym[bi], sym[bi + 1])
            out, j = [], 0
            while j < len(sym):  # merge every occurrence of the best pair, left to right
                if j + 1 < len(sym) and (sym[j], sym[j + 1]) == pair:
                    out.append(sym[j] + sym[j + 1])
                    j += 2
                else:
                    out.append(sym[j])
                    j += 1
            sym = out
        ids = [self.vocab[s] for s in sym]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for is_sp, piece in split_specials(text, self.specials):
            if is_sp:
                ids.append(self.special_ids[piece])
            else:
                for w in PRETOKENIZE.findall(piece):
                    ids.extend(self._bpe(w))
        return ids


def save_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
