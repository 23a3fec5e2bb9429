"""The skills graph: names of skills, their synonyms and what each implies.

``data/skills_graph.json`` is built by ``scripts/build_skills_graph.py`` from ESCO (CC BY 4.0),
the ``skill-extractor`` gazetteer (MIT) and a curated layer of relations
(``scripts/data/skills_relations.tsv``); its ``about`` says which versions. A skill is named
by its canonical name or a synonym ("Postgres" is PostgreSQL); it implies the broader skills of
its ``implies`` edges, transitively (PostgreSQL -> SQL -> Databases; pandas -> Python; Looker ->
Dashboards). The vocabulary's other 31k names have no edges: each is a skill of its own,
matched by that name only.

``SkillGraph.mentions(text)`` finds the names a text holds, longest first and without overlap
("SQL Server" is one mention, not "SQL" and a server); ``SkillGraph.relation(asked, mention)``
says how a mention supports an asked skill: ``exact`` (the same name), ``synonym`` (another name
of it) or ``implied`` (a narrower skill that implies it), with the path it took.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

GRAPH_FILE = "skills_graph.json"
MAX_NAME_WORDS = 6
# Names that are also ordinary words: they count only when written with a capital.
ORDINARY_WORDS = frozenset(
    {"go", "rust", "swift", "less", "node", "rest", "lambda", "react", "spring", "express",
     "excel", "sketch", "torch", "helm", "access", "cloud", "looker", "mocha", "sage", "ruby",
     "illustrator", "api", "bi", "py", "ml", "ecs", "ci", "cd", "ts", "js", "drf", "elt",
     "leadership", "backend"}
)  # fmt: skip
# The same tokenizer as the graph's builder: a name's key is its lowercase tokens.
_TOKEN = re.compile(r"\.?[A-Za-z0-9][A-Za-z0-9+#]*(?:[./&'-][A-Za-z0-9+#]+)*[+#]*")


def key(term: str) -> str:
    """A name as the graph looks it up: lowercase tokens joined by one space."""
    return " ".join(_TOKEN.findall(term.lower()))


@dataclass(frozen=True)
class Mention:
    """A skill name in a text.

    Attributes:
        text: the name as written ("Postgres").
        skill: the skill it names ("PostgreSQL"; a vocabulary name stands for itself).
        known: the skill has edges (curated or ESCO), not only a vocabulary name.
    """

    text: str
    skill: str
    known: bool


class SkillGraph:
    """The graph of ``data/skills_graph.json`` (see the module docstring)."""

    def __init__(self, data: dict):
        self.about = data["about"]
        self.implies = {name: tuple(e["implies"]) for name, e in data["skills"].items()}
        self.names: dict[str, str] = {}
        for name in data["vocabulary"]:
            self.names[name] = name
        for name, entry in data["skills"].items():
            for synonym in entry["synonyms"]:
                self.names[key(synonym)] = name
        for name in data["skills"]:  # a canonical name wins over another skill's synonym
            self.names[key(name)] = name
        # the first word of every name, by kind (related skills', the vocabulary's): most
        # words of a text start none, and are passed over without a lookup per length
        self.first_words = {True: set(), False: set()}
        for name, skill in self.names.items():
            self.first_words[skill in self.implies].add(name.split(" ")[0])

    def mentions(self, text: str) -> list[Mention]:
        """The skill names in ``text``, left to right: the related skills' names first, then
        the vocabulary's in what is left ("Excel" in "Advanced Excel skills", not the
        vocabulary's "excel skills"), each pass longest first and without overlap."""
        tokens = list(_TOKEN.finditer(text))
        words = [t.group(0).lower() for t in tokens]
        taken = [False] * len(tokens)
        found: list[tuple[int, Mention]] = []
        for related in (True, False):
            index = 0
            while index < len(tokens):
                end = self._longest(tokens, words, taken, index, related)
                if end is None:
                    index += 1
                    continue
                skill = self.names[" ".join(words[index:end])]
                written = text[tokens[index].start() : tokens[end - 1].end()]
                found.append((index, Mention(written, skill, related)))
                taken[index:end] = [True] * (end - index)
                index = end
        return [mention for _, mention in sorted(found, key=lambda pair: pair[0])]

    def _longest(
        self, tokens: list[re.Match], words: list[str], taken: list[bool], index: int, related
    ) -> int | None:
        """The end of the longest name starting at token ``index`` (related skills' names or
        the vocabulary's), over tokens not taken yet; None when none starts there."""
        if words[index] not in self.first_words[related]:
            return None
        for end in range(min(len(tokens), index + MAX_NAME_WORDS), index, -1):
            if any(taken[index:end]):
                continue
            name = " ".join(words[index:end])
            skill = self.names.get(name)
            if skill is None or (skill in self.implies) != related:
                continue
            if self._written_as_a_name(tokens[index:end], name):
                return end
        return None

    @staticmethod
    def _written_as_a_name(tokens: list[re.Match], name: str) -> bool:
        """Short names and ordinary words count only with a capital ("Go", "R", "Looker")."""
        if len(tokens) > 1:
            return True
        written = tokens[0].group(0)
        if name in ORDINARY_WORDS or len(name.strip(".")) <= 2:
            return written[0].isupper() or written[0] == "."
        return True

    def broader(self, skill: str) -> dict[str, tuple[str, ...]]:
        """Every skill ``skill`` implies, transitively, with the path to it."""
        return _broader(self, skill)

    def relation(self, asked: str, mention: Mention) -> tuple[str, tuple[str, ...]] | None:
        """How ``mention`` supports the skill ``asked``: ("exact" | "synonym" | "implied",
        path), or None."""
        if mention.skill == asked:
            how = "exact" if key(mention.text) == key(asked) else "synonym"
            return how, (mention.text, asked)
        path = self.broader(mention.skill).get(asked)
        if path is not None:
            return "implied", (mention.text, *path)
        return None


@lru_cache(maxsize=4096)
def _broader_of(graph: SkillGraph, skill: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    paths: dict[str, tuple[str, ...]] = {}
    frontier = [(skill, (skill,))]
    while frontier:
        current, path = frontier.pop(0)
        for parent in graph.implies.get(current, ()):
            if parent not in paths and parent != skill:
                paths[parent] = (*path, parent)
                frontier.append((parent, paths[parent]))
    return tuple(paths.items())


def _broader(graph: SkillGraph, skill: str) -> dict[str, tuple[str, ...]]:
    return dict(_broader_of(graph, skill))


@lru_cache(maxsize=1)
def load_graph() -> SkillGraph:
    """The packaged skills graph (read once)."""
    text = resources.files("mmfuse").joinpath("data", GRAPH_FILE).read_text(encoding="utf-8")
    return SkillGraph(json.loads(text))


def graph_digest() -> str:
    """The SHA-256 of the packaged graph file (keys the screening cache)."""
    data = resources.files("mmfuse").joinpath("data", GRAPH_FILE).read_bytes()
    return hashlib.sha256(data).hexdigest()
