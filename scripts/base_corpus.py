"""Corpus for the embedded base model, extracted from Debian packages installed on this machine.

Every source is redistributable; its licence is recorded in SOURCES (copied into the model card).
A document is one string. Documents are either plain text or ChatML conversations
(`<|im_start|>role\\n...<|im_end|>\\n` turns), so the base model has seen the layout the
playground's chat template renders. Documents are joined with `<|endoftext|>` later.

Everything is deterministic: one seed, sorted file lists, no clocks.
"""
import gzip
import hashlib
import html
import os
import random
import re
from html.parser import HTMLParser

# apt packages whose files are read. Checked by `check_packages` with a message that says what to run.
APT_PACKAGES = ["python3-regex", "fortunes", "fortunes-min", "dict-gcide", "debian-reference-en"]

FORTUNE_DIR = "/usr/share/games/fortunes"
GCIDE_DICT = "/usr/share/dictd/gcide.dict.dz"
GCIDE_INDEX = "/usr/share/dictd/gcide.index"
DEBREF_DIR = "/usr/share/debian-reference"
LICENSE_DIR = "/usr/share/common-licenses"

SOURCES = [
    {
        "name": "fortunes, fortunes-min",
        "what": "fortune cookie sayings, quotations and jokes (all files except the ASCII-art ones)",
        "path": FORTUNE_DIR,
        "licence": "BSD-3-Clause (fortune-mod, Regents of the University of California); "
                   "see /usr/share/doc/fortunes/copyright",
    },
    {
        "name": "dict-gcide",
        "what": "GNU Collaborative International Dictionary of English (1913 Webster + additions): "
                "headword, part of speech and first sense of a sample of entries",
        "path": GCIDE_DICT,
        "licence": "GPL-2.0-or-later; see /usr/share/doc/dict-gcide/copyright",
    },
    {
        "name": "debian-reference-en",
        "what": "Debian Reference (Osamu Aoki), English HTML: paragraphs and list items",
        "path": DEBREF_DIR,
        "licence": "GPL-2.0-or-later; see /usr/share/doc/debian-reference-en/copyright",
    },
    {
        "name": "base-files (/usr/share/common-licenses)",
        "what": "licence texts: GPL-2, GPL-3, LGPL-2.1, Apache-2.0, MPL-2.0, BSD, Artistic",
        "path": LICENSE_DIR,
        "licence": "verbatim copying of the licence documents is permitted by each licence's own notice",
    },
]

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
SPECIAL_RE = re.compile("|".join(re.escape(s) for s in SPECIALS))


def check_packages():
    """Fail with the apt command to run when a source is missing."""
    missing = []
    probes = {
        "fortunes": os.path.join(FORTUNE_DIR, "fortunes"),
        "fortunes-min": os.path.join(FORTUNE_DIR, "fortunes"),
        "dict-gcide": GCIDE_DICT,
        "debian-reference-en": os.path.join(DEBREF_DIR, "ch01.en.html"),
    }
    for pkg, path in probes.items():
        if not os.path.exists(path):
            missing.append(pkg)
    try:
        import regex  # noqa: F401  (GPT-2 pre-tokenizer needs \p{L})
    except ImportError:
        missing.append("python3-regex")
    if not os.path.exists(os.path.join(LICENSE_DIR, "GPL-3")):
        missing.append("base-files")
    if missing:
        raise SystemExit(
            "build_base_model: missing Debian packages: " + ", ".join(sorted(set(missing))) +
            "\nInstall them with:\n  apt-get install -y --no-install-recommends " + " ".join(APT_PACKAGES))


def scrub(text):
    """Source text must never contain a special token's spelling (it would tokenize as the special)."""
    return SPECIAL_RE.sub(lambda m: m.group(0).replace("|", "!"), text)


def chat(turns, system=None):
    """ChatML rendering, byte-for-byte the template in tokenizer_config.json."""
    out = []
    if system is not None:
        out.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    for role, content in turns:
        out.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    return "".join(out)


# ---------------------------------------------------------------- fortunes
FORTUNE_SKIP = {"art", "ascii-art"}


def read_fortunes():
    """List of fortunes (str), in file order."""
    out = []
    for name in sorted(os.listdir(FORTUNE_DIR)):
        p = os.path.join(FORTUNE_DIR, name)
        if "." in name or name in FORTUNE_SKIP or not os.path.isfile(p):
            continue
        with open(p, "rb") as f:
            raw = f.read().decode("utf-8", errors="replace")
        for chunk in re.split(r"\n%\n", raw):
            lines = [ln.rstrip() for ln in chunk.strip("\n%").split("\n")]
            text = "\n".join(lines).strip("\n")
            if not text.strip() or "\ufffd" in text or len(text) > 1500:
                continue
            # Fortunes laid out as tables/art (many runs of spaces) teach layout, not English.
            if len(re.findall(r"\S {4,}\S", text)) > 3:
                continue
            out.append(scrub(text))
    return out


# ---------------------------------------------------------------- GCIDE
POS_NAMES = {
    "n.": "noun", "v. t.": "transitive verb", "v. i.": "intransitive verb", "a.": "adjective",
    "adv.": "adverb", "prep.": "preposition", "conj.": "conjunction", "interj.": "interjection",
    "pron.": "pronoun", "v.": "verb", "n. pl.": "plural noun", "p. p.": "past participle",
    "p. pr. & vb. n.": "present participle",
}


def b64num(s):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for ch in s:
        n = n * 64 + alphabet.index(ch)
    return n


def clean_gcide_text(s):
    s = re.sub(r"\[[^\]]*\]", "", s)            # etymology and source tags: [L. abdicatio], [1913 Webster]
    s = re.sub(r"\{([^}]*)\}", r"\1", s)        # {cross references} -> plain
    s = s.split(" --")[0].split("--")[0]         # quotation author and what follows: --Bailey.
    s = re.sub(r"\s+", " ", s).strip()
    return s


def parse_gcide_entry(word, body):
    """(headword, part of speech or None, first definition) or None when the entry is unusable."""
    # Etymologies and source tags ([L. abdicatio: cf. F.\n abdication.], [1913 Webster]) may span lines.
    body = re.sub(r"\[[^\]]*\]", "", body)
    lines = body.split("\n")
    head = lines[0]
    m = re.match(r"^(.+?) \\[^\\]*\\,? ?(.*)$", head)
    if not m:
        return None
    rest_of_head = m.group(2)
    pos = None
    for abbr in sorted(POS_NAMES, key=len, reverse=True):
        if rest_of_head.startswith(abbr):
            pos = POS_NAMES[abbr]
            break
    text = "\n".join(lines[1:])
    # First numbered sense, or the first paragraph when there are no numbers.
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paras:
        return None
    first = paras[0]
    first = re.sub(r"^\s*1\.\s*", "", first)
    first = re.sub(r"^\s*\([A-Z][\w. ]*\)\s*", "", first)  # field label: (Anat.)
    d = clean_gcide_text(first)
    if "Syn." in d or "Note:" in d or "See " == d[:4]:
        return None
    if not (20 <= len(d) <= 400) or not d[0].isupper() or not d.endswith("."):
        return None
    if re.search(r"[\\{}<>|=*`\"]", d):
        return None
    return word, pos, scrub(d)


def read_gcide(rng, max_entries):
    """Sample of (word, pos, definition), sampled with rng from usable entries."""
    with gzip.open(GCIDE_DICT, "rb") as f:  # dictzip is a gzip stream; it inflates to ~40 MB
        data = f.read()
    entries = []
    seen = set()
    with open(GCIDE_INDEX, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0].startswith("00-"):
                continue
            word = parts[0]
            if not re.fullmatch(r"[A-Za-z][a-z\-]{2,20}", word) or word.lower() in seen:
                continue
            off, ln = b64num(parts[1]), b64num(parts[2])
            body = data[off:off + ln].decode("utf-8", errors="replace")
            e = parse_gcide_entry(word, body)
            if e is None:
                continue
            seen.add(word.lower())
            entries.append(e)
    rng.shuffle(entries)
    return entries[:max_entries]


def gcide_plain(e):
    word, pos, d = e
    return f"{word.lower()} ({pos}): {d}" if pos else f"{word.lower()}: {d}"


QUESTION_FORMS = [
    "What does \"{w}\" mean?",
    "Define {w}.",
    "What is the meaning of the word \"{w}\"?",
    "What does the word {w} mean?",
]


def gcide_turns(e, rng):
    word, pos, d = e
    q = rng.choice(QUESTION_FORMS).format(w=word.lower())
    art = "an" if pos and pos[0] in "aeiou" else "a"
    a = d if pos is None or rng.random() < 0.5 else f"\"{word.lower()}\" is {art} {pos}: {d[0].lower() + d[1:]}"
    return [("user", q), ("assistant", a)]


# ---------------------------------------------------------------- Debian Reference
class _ParaParser(HTMLParser):
    """Collects the text of <p> and <li> elements; skips <pre>, tables and scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras, self.buf, self.depth, self.skip = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "table", "script", "style"):
            self.skip += 1
        elif tag in ("p", "li") and not self.skip:
            if self.depth == 0:
                self.buf = []
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("pre", "table", "script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "li") and self.depth:
            self.depth -= 1
            if self.depth == 0:
                t = re.sub(r"\s+", " ", "".join(self.buf)).strip()
                if t:
                    self.paras.append(t)

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.buf.append(data)


def group_paragraphs(paras):
    """Consecutive paragraphs joined into documents of just over 1500 chars (the last may be shorter), scrubbed."""
    docs, cur = [], []
    for para in paras:
        cur.append(para)
        if sum(len(x) for x in cur) > 1500:
            docs.append(scrub("\n\n".join(cur)))
            cur = []
    if cur:
        docs.append(scrub("\n\n".join(cur)))
    return docs


def read_debian_reference():
    """List of documents: consecutive paragraphs of one chapter, grouped to ~1500 chars."""
    docs = []
    for name in sorted(os.listdir(DEBREF_DIR)):
        if not re.fullmatch(r"(ch\d+|pr01|apa)\.en\.html", name):
            continue
        p = _ParaParser()
        with open(os.path.join(DEBREF_DIR, name), encoding="utf-8") as f:
            p.feed(f.read())
        docs.extend(group_paragraphs([html.unescape(x) for x in p.paras if len(x) >= 40]))
    return docs


# ---------------------------------------------------------------- licences
LICENSE_FILES = ["GPL-2", "GPL-3", "LGPL-2.1", "Apache-2.0", "MPL-2.0", "BSD", "Artistic"]


def read_licenses():
    """Each licence split into paragraphs grouped to ~1500 chars (lines re-flowed)."""
    docs = []
    for name in LICENSE_FILES:
        with open(os.path.join(LICENSE_DIR, name), encoding="utf-8", errors="replace") as f:
            raw = f.read()
        paras = [re.sub(r"[ \t]*\n[ \t]*", " ", p).strip() for p in re.split(r"\n\s*\n", raw)]
        docs.extend(group_paragraphs([x for x in paras if len(x) >= 20]))
    return docs


# ---------------------------------------------------------------- assembly
SYSTEM_PROMPTS = [None, None, None, "You are a helpful assistant.", "You are a concise dictionary.",
                  "Answer briefly."]
FORTUNE_ASKS = ["Tell me a saying.", "Give me a fortune.", "Say something wise.",
                "Tell me something funny.", "Share a quote."]


def is_heldout(doc, frac):
    """Split by a hash of the document text, so the split does not depend on order or sampling."""
    h = int(hashlib.sha1(doc.encode("utf-8")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < frac


def build_corpus(seed=1234, gcide_entries=40000, heldout_frac=0.02):
    """Returns (train_docs, heldout_docs, stats). stats: characters per source."""
    rng = random.Random(seed)
    fortunes = read_fortunes()
    words = read_gcide(rng, gcide_entries)
    debref = read_debian_reference()
    lic = read_licenses()

    docs, stats = [], {}

    def add(kind, d):
        docs.append(d)
        stats[kind] = stats.get(kind, 0) + len(d)

    for f in fortunes:
        add("fortunes (plain)", f)
    # One fortune in three also appears as an answer to a chat request.
    for f in fortunes[::3]:
        add("fortunes (chat)", chat([("user", rng.choice(FORTUNE_ASKS)), ("assistant", f)], rng.choice(SYSTEM_PROMPTS)))
    # Dictionary: 60% plain lines grouped 8 to a document, 40% chat with 1-3 questions per conversation.
    n_plain = int(len(words) * 0.6)
    plain, chatty = words[:n_plain], words[n_plain:]
    for i in range(0, len(plain), 8):
        add("gcide (plain)", "\n".join(gcide_plain(e) for e in plain[i:i + 8]))
    i = 0
    while i < len(chatty):
        k = rng.choice([1, 1, 2, 3])
        turns = []
        for e in chatty[i:i + k]:
            turns += gcide_turns(e, rng)
        add("gcide (chat)", chat(turns, rng.choice(SYSTEM_PROMPTS)))
        i += k
    for d in debref:
        add("debian-reference", d)
    for d in lic:
        add("common-licenses", d)

    rng.shuffle(docs)
    train = [d for d in docs if not is_heldout(d, heldout_frac)]
    held = [d for d in docs if is_heldout(d, heldout_frac)]
    return train, held, stats
