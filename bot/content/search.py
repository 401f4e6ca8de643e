"""Workday search: a ranked index over lookup cards and lessons, built once from the content.

A query is reduced to terms the same way the content is: lower case, apostrophes dropped
("don't" -> "dont"), ordinals and labelling number words as digits ("first stage", "stage two"),
function words and greetings removed ("what do I say when someone tells me about abuse" keeps
say, someone, tell, abuse) and a light stemmer for plurals and verb endings ("boundaries" ->
"boundary", "listening" -> "listen"). Word order never matters.

Ranking is BM25F over weighted fields (title and aliases, then the summary, then the fuller
text), plus two bonuses: neighbouring query terms that are neighbours in the text too (a phrase,
in either order), and a card title, id or alias that is (nearly) the query's set of terms,
weighted by rarity, so "stage 2" finds "Stage 2" and "disorganised attachment" the disorganised
model rather than the attachment overview. A query term the content does not contain is matched
to the nearest terms it does contain with rapidfuzz (typos, US spellings), or completed as a
prefix (inline queries arrive while the person is still typing), each at a discount. Cards rank
above lessons that match as well: a card is what someone needs mid-shift.

This module never imports telegram or sqlalchemy.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from rapidfuzz import fuzz, process

from bot.content.html import html_to_text
from bot.content.schema import Card, Content, Lesson

HitKind = Literal["card", "lesson"]

CARD: HitKind = "card"
LESSON: HitKind = "lesson"

# Field weights: a word in a title or alias says far more about a card than one in its body.
_TITLE = 2.0
_ALIAS = 2.0
_SUMMARY = 1.0
_MORE = 0.6
_LESSON_TITLE = 2.0
_LESSON_BODY = 0.8
# BM25 saturation and length normalisation.
_K1 = 1.2
_B = 0.6
# How much an alias or title that matches the query's terms adds (in units of a rare term).
_NAME_BONUS = 6.0
# How much two query terms found side by side add, on top of the terms themselves.
_PHRASE = 1.0
# A number in a query ("stage 2") counts this many times an ordinary word.
_NUMBER = 2.0
# Cards are the lookup unit; a lesson that matches as well comes after the card.
_LESSON_FACTOR = 0.75
# Fuzzy matching: minimum rapidfuzz ratio by term length, and what a near match is worth.
_FUZZY_MIN_LENGTH = 5
_FUZZY_LONG = 8  # from this length two typos are tolerated, below it one
_PREFIX_MIN_LENGTH = 3
_PREFIX_WEIGHT = 0.7
_FUZZY_LIMIT = 3
_PREFIX_LIMIT = 6
# A longer message is not a query; its first terms are plenty (and keep search fast).
_MAX_QUERY_TERMS = 16
# Hits far below the best one are noise, not alternatives.
_RELATIVE_CUTOFF = 0.25

_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHES = re.compile(r"['’‘`]")

# Ordinals always name a position ("first stage" = stage 1); a cardinal does only after a word
# ("stage two"), since before one it is a count ("three stages" means all of them).
_ORDINALS = {"first": "1", "1st": "1", "second": "2", "2nd": "2", "third": "3", "3rd": "3"}
_CARDINALS = {"one": "1", "two": "2", "three": "3"}

# Function words and conversational filler; what is left says what the person is looking for.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can cant could couldnt did didnt do does doesnt doing down during
    each either else ever few for from further get gets getting got had hadnt has hasnt have
    havent having he hed hes her here hers herself him himself his how hows i id ill im ive if in
    into is isnt it its itself just lets like me might more most much must my myself no nor not
    now of off on once only or other ought our ours ourselves out over own please same shall she
    shed shes should shouldnt so some such than that thats the their theirs them themselves then
    there theres these they theyd theyll theyre theyve this those though through to too under
    until up upon us very was wasnt we wed well were weve werent what whats when whens where
    wheres which while who whos whom will with within without wont would wouldnt you
    youd youll youre youve your yours yourself yourselves
    something anything thing things really maybe also still show find look looking card cards
    lesson lessons info information hello hi hey thanks thank thx cheers ok okay yes yeah
    bye goodbye morning afternoon evening
    """.split()  # noqa: SIM905  (a word list reads better as prose than as 200 quoted strings)
)


def _stem(word: str) -> str:
    """A light stemmer: plurals, -ing and -ed, and US spellings folded to British ones."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) > 4:
        word = _undouble(word[:-2])
    word = word.replace("avior", "aviour").replace("iz", "is")
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(stem: str) -> str:
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    return stem


def _words(text: str) -> list[str]:
    return _WORD.findall(_APOSTROPHES.sub("", text.casefold()))


def _numbered(words: list[str]) -> list[str]:
    """Words with ordinals, and cardinals that follow a word, as digits."""
    numbered: list[str] = []
    previous = ""
    for word in words:
        if word in _ORDINALS:
            numbered.append(_ORDINALS[word])
        elif word in _CARDINALS and previous and previous not in STOP_WORDS:
            numbered.append(_CARDINALS[word])
        else:
            numbered.append(word)
        previous = word
    return numbered


def terms(text: str) -> list[str]:
    """The search terms of a text, in order: stop words dropped, numbers as digits, stemmed."""
    return [_stem(word) for word in _numbered(_words(text)) if word not in STOP_WORDS]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a card or a lesson, by id, with its score (higher is better)."""

    kind: HitKind
    id: str
    score: float


@dataclass(frozen=True, slots=True)
class _Document:
    kind: HitKind
    id: str
    # Each name (title or alias) as a set of terms, for the name bonus.
    names: tuple[frozenset[str], ...]


@dataclass(slots=True)
class _Field:
    """One weighted field of a document: its terms, and its adjacent term pairs (for phrases)."""

    name: str
    weight: float
    terms: dict[str, int]
    pairs: dict[str, int]
    length: int


def _pair(first: str, second: str) -> str:
    """A key for two terms next to each other, in either order ("base secure" = "secure base")."""
    return f"{first} {second}" if first <= second else f"{second} {first}"


def _compounds(text: str) -> list[str]:
    """Adjacent words run together ("self care" -> "selfcare"), so either spelling matches."""
    words = _numbered(_words(text))
    return [_stem(a + b) for a, b in pairwise(words)]


def _field(name: str, weight: float, texts: list[str], *, names: bool = False) -> _Field:
    """Count a field's terms and pairs; each text is separate (pairs never span two aliases).

    Names (a title, aliases) count each term once: "secure" in three aliases is one synonym
    list, not three times the evidence. Their run-together compounds count too ("selfcare").
    """
    field = _Field(name, weight, {}, {}, 0)
    for text in texts:
        found = terms(text)
        field.length += len(found)
        for term in found:
            field.terms[term] = 1 if names else field.terms.get(term, 0) + 1
        for first, second in pairwise(found):
            key = _pair(first, second)
            field.pairs[key] = 1 if names else field.pairs.get(key, 0) + 1
        if names:
            for compound in _compounds(text):
                field.terms.setdefault(compound, 1)
    return field


class SearchIndex:
    """An inverted index over the content's cards and lessons; immutable once built."""

    def __init__(self, content: Content) -> None:
        self._documents: list[_Document] = []
        fields: list[list[_Field]] = []
        for card in content.cards:
            self._documents.append(_card_document(card))
            fields.append(_card_fields(card))
        for lesson in content.lessons:
            self._documents.append(_Document(LESSON, lesson.id, (frozenset(terms(lesson.title)),)))
            fields.append(_lesson_fields(lesson))
        self._postings, self._pair_postings = _postings(fields)
        self._vocabulary = sorted(self._postings)
        self._idf = self._idfs(self._postings)
        self._pair_idf = self._idfs(self._pair_postings)

    def _idfs(self, postings: dict[str, dict[int, float]]) -> dict[str, float]:
        count = len(self._documents)
        return {
            term: math.log(1 + (count - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in postings.items()
        }

    def __len__(self) -> int:
        return len(self._documents)

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """The best matches for a query, best first; empty when nothing matches."""
        wanted = list(dict.fromkeys(terms(query)))[:_MAX_QUERY_TERMS]
        expanded = [self._expand(term) for term in wanted]
        expanded = [options for options in expanded if options]
        if not expanded:
            return []
        scores: dict[int, float] = {}
        for options in expanded:
            # A query term counts once per document, through its best-matching expansion.
            best: dict[int, float] = {}
            for term, weight in options.items():
                idf = self._idf[term]
                for doc, saturation in self._postings[term].items():
                    value = weight * idf * saturation
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            for doc, value in best.items():
                scores[doc] = scores.get(doc, 0.0) + value
        self._add_phrases(scores, expanded)
        self._add_name_bonus(scores, expanded)
        ranked = sorted(
            (
                Hit(
                    self._documents[doc].kind,
                    self._documents[doc].id,
                    score * (_LESSON_FACTOR if self._documents[doc].kind == LESSON else 1.0),
                )
                for doc, score in scores.items()
            ),
            key=lambda hit: (-hit.score, hit.kind != CARD, hit.id),
        )
        if not ranked:
            return []
        floor = ranked[0].score * _RELATIVE_CUTOFF
        return [hit for hit in ranked if hit.score >= floor][:limit]

    def _expand(self, term: str) -> dict[str, float]:
        """The indexed terms a query term stands for, each with how much it is trusted."""
        if term.isdigit():
            # A number names one thing exactly ("first stage", "stage 2"): it outweighs words.
            return {term: _NUMBER} if term in self._idf else {}
        if term in self._idf:
            return {term: 1.0}
        options: dict[str, float] = {}
        if len(term) >= _FUZZY_MIN_LENGTH:
            cutoff = 85.0 if len(term) < _FUZZY_LONG else 80.0
            for match, ratio, _ in process.extract(
                term,
                self._vocabulary,
                scorer=fuzz.ratio,
                score_cutoff=cutoff,
                limit=_FUZZY_LIMIT,
            ):
                options[match] = (ratio / 100.0) ** 2
        if len(term) >= _PREFIX_MIN_LENGTH:
            start = bisect_left(self._vocabulary, term)
            end = bisect_left(self._vocabulary, term + "\uffff", lo=start)
            completions = self._vocabulary[start:end]
            for word in sorted(completions, key=lambda w: -len(self._postings[w]))[:_PREFIX_LIMIT]:
                options[word] = max(options.get(word, 0.0), _PREFIX_WEIGHT)
        return options

    def _add_phrases(self, scores: dict[int, float], expanded: list[dict[str, float]]) -> None:
        """Reward documents where two neighbouring query terms are neighbours too."""
        for first, second in pairwise(expanded):
            a, a_weight = max(first.items(), key=lambda item: item[1])
            b, b_weight = max(second.items(), key=lambda item: item[1])
            key = _pair(a, b)
            postings = self._pair_postings.get(key)
            if postings is None:
                continue
            value = _PHRASE * min(a_weight, b_weight) * self._pair_idf[key]
            for doc, saturation in postings.items():
                scores[doc] = scores.get(doc, 0.0) + value * saturation

    def _add_name_bonus(self, scores: dict[int, float], expanded: list[dict[str, float]]) -> None:
        """Reward documents whose title or an alias is (nearly) the query's set of terms.

        The overlap is weighted by rarity, so in "disorganised attachment" the rare word
        "disorganised" decides between the disorganised card and the attachment overview.
        """
        # A name matches at best exactly (trust capped at 1), but one that misses the query's
        # number misses more (its full weight), so "first stage of recovery" is stage 1.
        query = [
            {term: min(weight, 1.0) for term, weight in options.items()} for options in expanded
        ]
        query_weights = [
            max(weight * self._idf[term] for term, weight in options.items())
            for options in expanded
        ]
        reachable = set().union(*query)
        for doc in scores:
            best = 0.0
            for name in self._documents[doc].names:
                if name.isdisjoint(reachable):
                    continue
                matched = 0.0
                unmatched = 0.0
                for options, weight in zip(query, query_weights, strict=True):
                    found = max((options.get(t, 0.0) * self._idf[t] for t in name), default=0.0)
                    matched += found
                    if found == 0.0:
                        unmatched += weight
                size = sum(self._idf[t] for t in name)
                best = max(best, matched / (size + unmatched))
            if best > 0.0:
                scores[doc] += _NAME_BONUS * best * best


def _card_document(card: Card) -> _Document:
    # The id is a name too: "stages" is the overview of the stages, not one of them.
    names = (card.title, card.id.replace("-", " "), *card.aliases)
    return _Document(CARD, card.id, tuple(frozenset(terms(name)) for name in names))


def _card_fields(card: Card) -> list[_Field]:
    return [
        _field("card title", _TITLE, [card.title], names=True),
        _field("aliases", _ALIAS, list(card.aliases), names=True),
        _field("summary", _SUMMARY, [html_to_text(card.summary)]),
        _field("more", _MORE, [html_to_text(card.more or "")]),
    ]


def _lesson_fields(lesson: Lesson) -> list[_Field]:
    return [
        _field("lesson title", _LESSON_TITLE, [lesson.title], names=True),
        _field("body", _LESSON_BODY, [html_to_text(lesson.body), html_to_text(lesson.takeaway)]),
    ]


_Postings = dict[str, dict[int, float]]


def _postings(documents: list[list[_Field]]) -> tuple[_Postings, _Postings]:
    """term -> {document: BM25F saturation} for terms and for pairs, fields length-normalised."""
    totals: dict[str, int] = {}
    counts: dict[str, int] = {}
    for fields in documents:
        for field in fields:
            totals[field.name] = totals.get(field.name, 0) + field.length
            counts[field.name] = counts.get(field.name, 0) + 1
    averages = {name: max(totals[name] / counts[name], 1.0) for name in totals}
    postings: _Postings = {}
    pair_postings: _Postings = {}
    for doc, fields in enumerate(documents):
        pseudo: dict[str, float] = {}
        pseudo_pairs: dict[str, float] = {}
        for field in fields:
            norm = 1 - _B + _B * (field.length / averages[field.name])
            for term, tf in field.terms.items():
                pseudo[term] = pseudo.get(term, 0.0) + field.weight * tf / norm
            for pair, tf in field.pairs.items():
                pseudo_pairs[pair] = pseudo_pairs.get(pair, 0.0) + field.weight * tf / norm
        for term, value in pseudo.items():
            postings.setdefault(term, {})[doc] = value / (_K1 + value)
        for pair, value in pseudo_pairs.items():
            pair_postings.setdefault(pair, {})[doc] = value / (_K1 + value)
    return postings, pair_postings


def build_index(content: Content) -> SearchIndex:
    """Build the search index for the content (done once, at start-up)."""
    return SearchIndex(content)
