"""Japanese text normalisation shared by the matcher, the import and the area conversation.

「ｶﾝﾃﾞﾝﾁの捨て方」, 「カンデンチ」, 「かんでんち」 and 「乾電池はどうやって捨てる？」 all reduce to
a key the index knows: widths and kana folded by the core kernel (``municipalities.jp``: NFKC,
katakana → hiragana), lower case, no spaces or punctuation, and the trailing question words
stripped. Only the chatbot's own part (question tails, readings) lives here.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from municipalities import jp

# Tails residents add to a thing's name. Applied repeatedly, longest first, on text that is
# already in hiragana (so 「ゴミ」 is 「ごみ」). Each alternative needs a question word, a verb
# or a noun like 捨て方, so an item name that merely ends in 「の」 or 「もの」 is left alone.
_Q = r"(?:どうやって|どうやったら|どのように|どうしたら|どうすれば|どうすればいい|どうする|どうしますか|どう|どこに|どこへ|どこで|いつ|なに|何)"
_V = (
    r"(?:すてる|捨てる|すてれば|捨てれば|すてたら|捨てたら|すてます|捨てます|すてますか|捨てますか|"
    r"だす|出す|だせば|出せば|だしたら|出したら|だします|出します|する|すれば|したら|します|ごみ|の日|ですか)?"
)
_TAIL = r"(?:のが)?(?:いい|よい)?(?:ですか|でしょうか|か|の|ん)?"
_TAILS = [
    re.compile(rf"(?:は|って|を|の)?{_Q}{_V}{_TAIL}$"),
    re.compile(
        r"(?:の|を)(?:すてかた|捨て方|だしかた|出し方|ぶんべつ|分別|わけかた|分け方|しょぶん|処分|しょぶんほうほう|処分方法|"
        r"すてるひ|捨てる日|だすひ|出す日|しゅうしゅうび|収集日|しゅうしゅう|収集)(?:は|を|について)?(?:おしえて|教えて)?(?:ください|下さい)?$"
    ),
    re.compile(
        r"(?:は|を)?(?:すてたい|捨てたい|だしたい|出したい|しょぶんしたい|処分したい)(?:のですが|んですが|けど|です)?$"
    ),
    re.compile(r"(?:について|を)?(?:おしえて|教えて|しりたい|知りたい)(?:ください|下さい)?$"),
    re.compile(r"(?:のですが|んですが|のだけど|んだけど|のですけど|けど|ですが)$"),
    re.compile(r"(?:は|って|を)$"),
]
_PUNCT = re.compile(r"[\W_]+")
_TRAILING = "?？!！。、.,…~〜ｗw 　\t\n"


def fold(text: str) -> str:
    """Widths, kana and case folded; spaces kept (for display-independent comparison)."""
    return jp.to_hiragana(text).lower().strip()


def key(text: str) -> str:
    """The comparison key of a name: folded, without spaces or punctuation."""
    return _PUNCT.sub("", fold(text))


def strip_question(text: str) -> str:
    """Folded text without the question words residents add (「は？」「の捨て方」…)."""
    s = fold(text).rstrip(_TRAILING)
    changed = True
    while changed:
        changed = False
        for pattern in _TAILS:
            match = pattern.search(s)
            if match and match.start() > 0 and match.end() > match.start():
                s = s[: match.start()].rstrip(_TRAILING)
                changed = True
                break
    return s


def query_key(text: str) -> str:
    """The key of what a resident typed."""
    return _PUNCT.sub("", strip_question(text))


_kakasi_lock = threading.Lock()
_kakasi = None


@lru_cache(maxsize=4096)
def reading(text: str) -> str:
    """The reading of ``text`` in hiragana (kanji converted with pykakasi's bundled dictionary)."""
    global _kakasi
    with _kakasi_lock:
        if _kakasi is None:
            # pykakasi loads its dictionaries on import: only a process that needs a reading pays
            import pykakasi

            _kakasi = pykakasi.kakasi()
        parts = _kakasi.convert(jp.nfkc(text))
    return "".join(part["hira"] for part in parts)
