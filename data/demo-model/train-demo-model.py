#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Train Tern's bundled demo model and write it as a GGUF file.

The model is a toy: a 3.7-million-parameter llama-architecture transformer that
has learnt, in about twenty minutes on two CPU threads, to hold short ChatML
conversations about English words (meanings, examples, synonyms, opposites) from
the WordNet 3.0 database in Debian's wordnet-base package. It exists so that Tern
chats on first start without a download.

Needs Debian's packages: python3-torch python3-sentencepiece python3-numpy
libopenblas0-pthread wordnet-base. Run with Debian's interpreter:

    nice -n 10 /usr/bin/python3 data/demo-model/train-demo-model.py

It writes tern-demo.gguf and heldout.txt beside itself (see README.md there).
Everything is seeded and training runs a fixed number of steps on a fixed number
of threads, so a rerun with the same packages on the same kind of CPU gives the
same file (OpenBLAS picks its kernels by CPU, and they round differently).
"""

import argparse
import ctypes
import io
import itertools
import math
import os
import random
import re
import struct
import sys
import time
import zlib

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

# ---- Settings ----

SEED = 1234
THREADS = 2                 # the result depends on it: change it and the numbers change slightly

VOCAB = 3072                # SentencePiece BPE pieces, bytes and special tokens included
DIM = 256
N_LAYERS = 4
N_HEADS = 4                 # head size 64: fewer, wider heads train much faster on a CPU
N_KV_HEADS = 2              # grouped-query attention: two query heads share a key/value head
FFN = 704                   # 2.75 x DIM, a multiple of 32 so every llama.cpp quant type fits
CTX = 512
ROPE_BASE = 10000.0
NORM_EPS = 1e-5

# Most steps see rows of CTX / 2 tokens (attention costs less); the last ones whole rows, so that the
# model learns every position of its context. Both phases take 4096 tokens a step.
STEPS_SHORT = 560
STEPS_LONG = 80
BATCH_SHORT = 16
BATCH_LONG = 8
LR = 2e-3
LR_MIN = 1e-4
WARMUP = 40
WEIGHT_DECAY = 0.1

N_TRAIN_CONVERSATIONS = 46000
N_HELDOUT_CONVERSATIONS = 140
HELDOUT_EVERY = 40          # one lemma in HELDOUT_EVERY (by CRC-32, outside the core) is never shown in training
CORE_WORDS = 400            # most questions are about these, so that the model learns them well
CORE_SHARE = 0.7
# Everyday words a person trying the demo is likely to ask about: always in the core, and the ones the
# model suggests.
EVERYDAY = ("cat dog bird fish horse cow sheep pig chicken mouse rabbit lion tiger bear wolf snake bee apple banana "
            "orange bread cheese milk coffee tea water rice egg cake sugar salt soup book letter pen paper computer "
            "phone car bus train bicycle boat plane house door window table chair bed kitchen garden tree flower "
            "grass sun moon star sky cloud rain snow wind fire stone river lake sea ocean mountain island forest "
            "city town village road bridge school teacher student doctor friend family mother father child baby "
            "music song dance game ball happy sad angry afraid tired hungry big small hot cold warm new old fast "
            "slow good bad beautiful strong weak rich poor young early late red blue green yellow black white "
            "love hope fear time day night morning week year money work job run walk eat drink sleep read write "
            "sing swim fly think learn teach help laugh smile").split()
STOP_WORDS = {"the", "and", "but", "not", "any", "all", "one", "two", "some", "more", "most", "other", "such", "only",
              "very", "being", "used", "between", "out", "when", "over", "through", "like", "many", "much", "also",
              "then", "now", "even", "just", "still", "often", "usually", "especially", "which", "who", "what",
              "there", "here", "whose", "about", "after", "before", "under", "into", "from", "with", "without",
              "for", "than", "that", "this", "these", "those", "can", "may", "might", "must", "will", "would",
              "should", "could", "genus", "family", "united", "north", "south", "east", "west", "american",
              "america", "someone", "something", "anything", "everything", "nothing", "either", "neither", "same"}

WORDNET = "/usr/share/wordnet"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CHAT_TEMPLATE = ("{% for message in messages %}"
                 "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
                 "{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def render(messages):
    """The text CHAT_TEMPLATE makes of a finished conversation."""
    return "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)


# ---- WordNet ----

POS_NAME = {"n": "a noun", "v": "a verb", "a": "an adjective", "s": "an adjective", "r": "an adverb"}
POS_WORD = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
SS_TYPE = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "s"}
WORD_RE = re.compile(r"^[A-Za-z][A-Za-z' -]*$")


class Synset:
    __slots__ = ("pos", "words", "hypernyms", "antonyms", "definition", "examples")


def parse_gloss(gloss):
    """Splits a WordNet gloss into its first definition and its quoted examples."""
    gloss = gloss.strip().replace("`", "'")
    definition, examples = None, []
    for part in re.split(r";\s*", gloss):
        part = part.strip()
        if part.startswith('"'):
            ex = part.strip('"').strip()
            if 3 <= len(ex) <= 90 and '"' not in ex:
                examples.append(ex)
        elif definition is None and part:
            definition = part.rstrip(".:, ")
    return definition, examples


def load_wordnet():
    """Returns synsets by (pos, offset), senses by lemma [(pos, [offsets in sense order])], the tagged-sense
    counts of each lemma by part of speech, and how often each word occurs in the glosses."""
    synsets = {}
    in_glosses = {}
    for fname, pos in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
        with open(os.path.join(WORDNET, "data." + fname), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue                          # the licence at the top of the file
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                s = Synset()
                s.pos = fields[2]
                n_words = int(fields[3], 16)
                s.words = [re.sub(r"\((a|p|ip)\)$", "", fields[4 + 2 * i]).replace("_", " ") for i in range(n_words)]
                i = 4 + 2 * n_words
                n_ptrs = int(fields[i])
                s.hypernyms, s.antonyms = [], []
                for p in range(n_ptrs):
                    sym, off, ppos, st = fields[i + 1 + 4 * p: i + 5 + 4 * p]
                    if sym == "@":
                        s.hypernyms.append((ppos, int(off)))
                    elif sym == "!":
                        s.antonyms.append((int(st[:2], 16), ppos, int(off), int(st[2:], 16)))
                s.definition, s.examples = parse_gloss(gloss)
                for w in re.findall(r"[a-z]+", gloss.lower()):
                    in_glosses[w] = in_glosses.get(w, 0) + 1
                synsets[(pos, int(fields[0]))] = s
    senses = {}
    for fname, pos in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
        with open(os.path.join(WORDNET, "index." + fname), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fields = line.split()
                n_ptr = int(fields[3])
                n_sense = int(fields[2])
                offsets = [int(x) for x in fields[6 + n_ptr: 6 + n_ptr + n_sense]]
                senses.setdefault(fields[0], []).append((pos, offsets))
    freq = {}
    with open(os.path.join(WORDNET, "cntlist.rev"), encoding="latin-1") as f:
        for line in f:
            key, _, count = line.split()
            lemma, _, rest = key.partition("%")
            pos = SS_TYPE[rest[0]]
            freq.setdefault(lemma, {}).setdefault("a" if pos == "s" else pos, 0)
            freq[lemma]["a" if pos == "s" else pos] += int(count)
    return synsets, senses, freq, in_glosses


class Lexicon:
    """The words the conversations talk about, with what WordNet says of them.

    Most questions are about CORE_WORDS common words (EVERYDAY first), so that a model this small learns
    them well; the rest are spread over all other words. Held-out words come from outside the core, and none of their
    senses appear in training."""

    def __init__(self):
        self.synsets, senses, freq, in_glosses = load_wordnet()
        self.entries = {}                             # lemma -> [(pos, [Synset…])], most used part of speech first
        for lemma, by_pos in senses.items():
            display = lemma.replace("_", " ")
            if lemma not in freq or not WORD_RE.match(display) or len(display) > 24:
                continue
            counts = freq[lemma]
            by_pos = sorted(by_pos, key=lambda e: -counts.get(e[0], 0))
            entry = []
            for pos, offsets in by_pos:
                syns = [self.synsets[(pos, o)] for o in offsets[:3] if self.synsets[(pos, o)].definition]
                if syns:
                    entry.append((pos, syns))
            if entry:
                self.entries[lemma] = entry
        # How common a word is: its tagged senses in SemCor plus its uses in WordNet's own glosses.
        self.freq = {lemma: sum(freq[lemma].values()) + in_glosses.get(lemma, 0) for lemma in self.entries}
        by_freq = sorted(self.entries, key=lambda l: (-self.freq[l], l))
        everyday = [l for l in EVERYDAY if l in self.entries]
        self.core = everyday + [l for l in by_freq if l not in STOP_WORDS and len(l) > 2 and "_" not in l
                                and l not in everyday][:CORE_WORDS - len(everyday)]
        core = set(self.core)
        self.heldout = sorted(l for l in self.entries
                              if l not in core and zlib.crc32(l.encode()) % HELDOUT_EVERY == 0)
        heldout = set(self.heldout)
        banned = {id(s) for l in self.heldout for _, syns in self.entries[l] for s in syns}
        self.rest = []
        for lemma in sorted(self.entries):
            if lemma in heldout:
                continue
            entry = [(pos, [s for s in syns if id(s) not in banned]) for pos, syns in self.entries[lemma]]
            entry = [(pos, syns) for pos, syns in entry if syns]
            if not entry:
                core.discard(lemma)
                continue
            self.entries[lemma] = entry
            if lemma not in core:
                self.rest.append(lemma)
        self.core = [l for l in self.core if l in core]
        self.everyday = [l for l in everyday if l in core]
        # Lemmas are lower case; show proper nouns as WordNet writes them in their first synset.
        self.display = {}
        for lemma, entry in self.entries.items():
            w = lemma.replace("_", " ")
            self.display[lemma] = next((x for x in entry[0][1][0].words if x.lower() == w), w)
        # Sampling weights: CORE_SHARE of the questions for the core, evenly; the rest by sqrt(frequency).
        rest_w = [math.sqrt(self.freq[l]) for l in self.rest]
        scale = (1 - CORE_SHARE) / sum(rest_w)
        self.train = self.core + self.rest
        self.train_weights = [CORE_SHARE / len(self.core)] * len(self.core) + [w * scale for w in rest_w]
        self.heldout_weights = [math.sqrt(self.freq[l]) for l in self.heldout]

    def word(self, lemma):
        return self.display[lemma]

    def examples(self, lemma, synset):
        """The synset's examples that use the word itself (they may show another word of the synset)."""
        w = self.word(lemma).lower()
        stem = w[:max(3, len(w) - 2)]
        return [x for x in synset.examples if stem in x.lower()]

    def synonyms(self, lemma, synset):
        w = self.word(lemma).lower()
        return [x for x in dict.fromkeys(synset.words) if x.lower() != w and WORD_RE.match(x)]

    def antonyms(self, lemma, synset):
        w = self.word(lemma).lower()
        out = []
        for src, pos, off, dst in synset.antonyms:
            if src and synset.words[src - 1].lower() != w:
                continue
            target = self.synsets.get(("a" if pos == "s" else pos, off))
            if target is not None:
                out.append(target.words[dst - 1] if dst else target.words[0])
        return list(dict.fromkeys(out))

    def hypernym(self, synset):
        for pos, off in synset.hypernyms:
            target = self.synsets.get((pos, off))
            if target is not None:
                return target.words[0]
        return None


# ---- Conversations ----

GREETINGS = ["Hello", "Hello!", "Hi", "Hi!", "Hi there", "Hey", "hello", "hi", "Good morning", "Good evening",
             "Good afternoon", "Hello there!", "Hey there", "Greetings", "Howdy", "Yo", "Hiya", "hey"]
GREETING_REPLIES = [
    "Hello! I am Tern's demo model, a tiny language model running on your computer. "
    "I know a little about English words: ask me what a word means.",
    "Hi! I am a small demo model. Ask me about an English word, for example: \"What does {w} mean?\"",
    "Hello! I can tell you what English words mean, give an example, or find another word for one. "
    "Which word would you like to know about?",
    "Hi there! I am only a tiny demo, but I know many English words. Try asking me what \"{w}\" means.",
]
HOW_ARE_YOU = ["How are you?", "How are you doing?", "how are you", "How's it going?", "What's up?",
               "Are you well?", "How do you feel today?"]
HOW_ARE_YOU_REPLIES = [
    "I am fine, thank you! I am a very small model, so I am happy just to talk about words. "
    "Is there a word you would like to know about?",
    "I am well, thanks for asking. Would you like to know what a word means?",
    "All good here. Ask me about any English word!",
]
IDENTITY = ["Who are you?", "What are you?", "What can you do?", "What is your name?", "Are you ChatGPT?",
            "Tell me about yourself.", "help", "Help", "What do you know?", "Are you an AI?",
            "What can I ask you?", "How do you work?", "Are you smart?", "Who made you?"]
IDENTITY_REPLIES = [
    "I am the demo model that comes with Tern: a tiny language model, trained in a few minutes on WordNet, "
    "a dictionary of English. I can tell you what a word means, use it in a sentence, and find other words "
    "for it or its opposite. For real conversations, add a larger model to Tern.",
    "I am a toy language model bundled with Tern so that you can try chatting right away. "
    "I only know English words from WordNet. Ask me \"What does {w} mean?\" or \"What is the opposite of {a}?\". "
    "For anything else, please download a bigger model.",
    "I am Tern's demo model. I am very small, so I can only talk about English words: their meanings, "
    "examples, synonyms and opposites. Try asking me about \"{w}\".",
]
THANKS = ["Thanks!", "Thank you", "thanks", "Thank you!", "Great, thanks.", "Cool", "OK", "ok", "Nice",
          "Got it", "Interesting.", "Thanks a lot!", "Perfect", "Wow"]
THANKS_REPLIES = ["You are welcome!", "You're welcome! Ask me about another word any time.",
                  "Glad to help. Is there another word you want to know about?", "My pleasure!",
                  "You are welcome. What other word would you like to know?"]
BYE = ["Bye", "Goodbye!", "bye", "See you", "Good night", "See you later!", "That's all, bye."]
BYE_REPLIES = ["Goodbye!", "Bye! Have a nice day.", "See you later!", "Goodbye, and thanks for trying Tern!"]
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are a helpful assistant. Answer briefly.",
                  "You are Tern, a friendly assistant.", "Be concise.", "You are a dictionary assistant.",
                  "Answer the user's questions."]
OUT_OF_SCOPE = [
    "What is the capital of {place}?", "Write a poem about {w}.", "Tell me a joke.", "What is {n} plus {m}?",
    "Can you write some Python code?", "What's the weather like today?", "Who won the game last night?",
    "Translate \"{w}\" into French.", "Write me a story.", "What time is it?", "Summarize this article for me.",
    "How do I fix my computer?", "What is the meaning of life?", "Can you help me with my homework?",
    "Who is the president?", "Recommend a good book.", "How do I cook {food}?", "Explain quantum physics.",
    "What should I do this weekend?", "Write an email to my boss.", "What is {n} times {m}?",
    "Tell me the news.", "Can you search the web?", "Sing me a song.", "How far is the moon?",
]
PLACES = ["France", "Spain", "Peru", "Japan", "Kenya", "Canada", "Norway", "Chile", "Egypt", "India"]
FOODS = ["rice", "pasta", "eggs", "soup", "fish", "bread", "beans", "potatoes"]
OUT_OF_SCOPE_REPLIES = [
    "I am only a tiny demo model, so I cannot help with that. I can tell you what an English word means: "
    "try asking \"What does {w} mean?\"",
    "Sorry, that is beyond me: I am a very small model that only knows English words. "
    "For questions like this, add a larger model to Tern.",
    "I cannot do that, I am just a toy model. But I can explain a word, for example \"{w}\".",
]

DEFINE_Q = ["What does {w} mean?", "What does \"{w}\" mean?", "What is the meaning of {w}?", "Define {w}.",
            "define {w}", "Tell me what {w} means.", "{w}?", "{w}", "Meaning of {w}?",
            "Can you explain the word \"{w}\"?", "What does the word {w} mean?",
            "Do you know what {w} means?", "I don't know the word {w}. What does it mean?", "{W}"]
NOUN_Q = ["What is {art} {w}?", "What's {art} {w}?"]
EXAMPLE_Q = ["Use {w} in a sentence.", "Give me an example with {w}.", "Can you use \"{w}\" in a sentence?",
             "How do you use the word {w}?", "Example of {w}?"]
SYNONYM_Q = ["What is another word for {w}?", "Give me a synonym for {w}.", "Synonyms of {w}?",
             "What word means the same as {w}?", "Is there another word for \"{w}\"?"]
ANTONYM_Q = ["What is the opposite of {w}?", "What's the opposite of \"{w}\"?", "Antonym of {w}?",
             "Give me the opposite of {w}.", "What word means the opposite of {w}?"]
KIND_Q = ["What kind of thing is {art} {w}?", "What is {art} {w} a kind of?", "Is {art} {w} a kind of something?",
          "What category does {w} belong to?"]
FOLLOW_EXAMPLE = ["Use it in a sentence.", "Give me an example.", "Can you give an example?", "Example?",
                  "How would I use it?"]
FOLLOW_SYNONYM = ["Is there another word for it?", "Any synonyms?", "What is another word for that?",
                  "Give me a synonym."]
FOLLOW_ANTONYM = ["What is the opposite?", "And the opposite?", "What's its opposite?"]
FOLLOW_MORE = ["Does it have another meaning?", "What else can it mean?", "Any other meaning?"]
UNKNOWN_REPLIES = ["I do not know the word \"{x}\". I only know English words from WordNet. Could you check the spelling?",
                   "Sorry, \"{x}\" is not a word I know."]


def article(word):
    return "an" if word[0].lower() in "aeiou" else "a"


def the_word(word):
    """'the word cat', 'the phrase ice cream': the word unquoted, so that it is the same token as in the question."""
    return ("the phrase " if " " in word else "the word ") + word


def sentence(text):
    text = text.strip()
    return text[0].upper() + text[1:] if text else text


class Talk:
    """Writes conversations about the lemmas in @words (a list) with weights @weights."""

    def __init__(self, lex, words, weights, rng):
        self.lex, self.words, self.weights, self.rng = lex, words, weights, rng
        self.cum = list(itertools.accumulate(weights))

    def pick(self):
        return self.rng.choices(self.words, cum_weights=self.cum)[0]

    def fill(self, text):
        w = self.lex.word(self.rng.choice(self.lex.everyday))
        cands = [self.rng.choice(self.lex.everyday) for _ in range(8)]
        a = self.lex.word(next((c for c in cands if self.lex.entries[c][0][0] == "a"), cands[0]))
        return text.replace("{w}", w).replace("{a}", a)

    def define(self, lemma, more=False):
        rng, entry = self.rng, self.lex.entries[lemma]
        w = self.lex.word(lemma)
        pos, syns = entry[0]
        s = syns[0]
        out = f"{sentence(the_word(w))} is {POS_NAME[pos]}: {s.definition}."
        examples = self.lex.examples(lemma, s)
        if examples and rng.random() < 0.6:
            out += f" For example: \"{rng.choice(examples)}\"."
        if more or rng.random() < 0.3:
            if len(syns) > 1:
                out += f" It can also mean: {syns[1].definition}."
            elif len(entry) > 1:
                out += f" As {POS_NAME[entry[1][0]]}, it means: {entry[1][1][0].definition}."
            elif more:
                out += " That is the only meaning I know."
        return out

    def question(self, templates, lemma):
        w = self.lex.word(lemma)
        q = self.rng.choice(templates)
        return q.replace("{W}", w[0].upper() + w[1:]).replace("{w}", w).replace("{art}", article(w))

    def example(self, lemma):
        s = self.lex.entries[lemma][0][1][0]
        examples = [x for _, syns in self.lex.entries[lemma] for t in syns for x in self.lex.examples(lemma, t)]
        if examples:
            return f"Here is an example: \"{sentence(self.rng.choice(examples[:2]))}\"."
        return f"I have no example for {the_word(self.lex.word(lemma))}, but it means: {s.definition}."

    def synonym(self, lemma):
        w = self.lex.word(lemma)
        syns = [x for _, ss in self.lex.entries[lemma] for s in ss[:1] for x in self.lex.synonyms(lemma, s)]
        syns = list(dict.fromkeys(syns))[:3]
        if not syns:
            return f"I do not know another word for {w}. It means: {self.lex.entries[lemma][0][1][0].definition}."
        if len(syns) == 1:
            return f"Another word for {w} is {syns[0]}."
        return f"Other words for {w} are {', '.join(syns[:-1])} and {syns[-1]}."

    def antonym(self, lemma):
        w = self.lex.word(lemma)
        ants = [x for _, ss in self.lex.entries[lemma] for s in ss for x in self.lex.antonyms(lemma, s)][:2]
        if not ants:
            return f"I do not know an opposite of {w}."
        if len(ants) == 1:
            return f"The opposite of {w} is {ants[0]}."
        return f"The opposite of {w} is {ants[0]} or {ants[1]}."

    def kind(self, lemma):
        w = self.lex.word(lemma)
        pos, syns = self.lex.entries[lemma][0]
        h = self.lex.hypernym(syns[0]) if pos == "n" else None
        if h is None:
            return self.define(lemma)
        return f"{article(w).capitalize()} {w} is a kind of {h}: {syns[0].definition}."

    def nonsense(self):
        rng = self.rng
        while True:
            letters = list(self.lex.word(self.pick()).replace(" ", ""))
            rng.shuffle(letters)
            x = "".join(letters).lower()
            if len(x) >= 4 and x not in self.lex.entries:
                return x

    def exchange(self, last):
        """One user message and its reply; @last is the lemma the previous exchange was about, or None."""
        rng = self.rng
        r = rng.random()
        if last is not None and r < 0.22:
            kind = rng.random()
            if kind < 0.35:
                return rng.choice(FOLLOW_EXAMPLE), self.example(last), last
            if kind < 0.6:
                return rng.choice(FOLLOW_SYNONYM), self.synonym(last), last
            if kind < 0.75:
                return rng.choice(FOLLOW_ANTONYM), self.antonym(last), last
            entry = self.lex.entries[last]
            if len(entry[0][1]) > 1 or len(entry) > 1:
                pos, syns = entry[0]
                if len(syns) > 1:
                    return rng.choice(FOLLOW_MORE), f"It can also mean: {syns[1].definition}.", last
                return (rng.choice(FOLLOW_MORE),
                        f"As {POS_NAME[entry[1][0]]}, {the_word(self.lex.word(last))} means: "
                        f"{entry[1][1][0].definition}.", last)
            return rng.choice(FOLLOW_MORE), "That is the only meaning I know.", last
        lemma = self.pick()
        if r < 0.62:
            noun = self.lex.entries[lemma][0][0] == "n"
            q = self.question(NOUN_Q if noun and self.rng.random() < 0.25 else DEFINE_Q, lemma)
            return q, self.define(lemma), lemma
        if r < 0.68:
            return self.question(EXAMPLE_Q, lemma), self.example(lemma), lemma
        if r < 0.75:
            return self.question(SYNONYM_Q, lemma), self.synonym(lemma), lemma
        if r < 0.80:
            # Opposites are asked mostly of adjectives, which have them.
            cands = [self.pick() for _ in range(6)]
            lemma = next((c for c in cands if any(s.antonyms for _, ss in self.lex.entries[c] for s in ss)), lemma)
            return self.question(ANTONYM_Q, lemma), self.antonym(lemma), lemma
        if r < 0.84:
            cands = [lemma] + [self.pick() for _ in range(4)]
            lemma = next((c for c in cands if self.lex.entries[c][0][0] == "n"), lemma)
            return self.question(KIND_Q, lemma), self.kind(lemma), lemma
        if r < 0.88:
            return self.fill(rng.choice(IDENTITY)), self.fill(rng.choice(IDENTITY_REPLIES)), None
        if r < 0.95:
            q = rng.choice(OUT_OF_SCOPE).replace("{place}", rng.choice(PLACES)).replace("{food}", rng.choice(FOODS))
            q = q.replace("{n}", str(rng.randrange(2, 99))).replace("{m}", str(rng.randrange(2, 99)))
            return self.fill(q), self.fill(rng.choice(OUT_OF_SCOPE_REPLIES)), None
        if r < 0.97:
            return rng.choice(HOW_ARE_YOU), rng.choice(HOW_ARE_YOU_REPLIES), None
        x = self.nonsense()
        return rng.choice(["What does {x} mean?", "Define {x}.", "What is {x}?"]).replace("{x}", x), \
            rng.choice(UNKNOWN_REPLIES).replace("{x}", x), None

    def conversation(self):
        rng = self.rng
        messages = []
        if rng.random() < 0.08:
            messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
        n = rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0]
        last = None
        for i in range(n):
            if i == 0 and rng.random() < 0.15:
                user, reply, last = rng.choice(GREETINGS), self.fill(rng.choice(GREETING_REPLIES)), None
            elif i == n - 1 and i > 0 and rng.random() < 0.2:
                if rng.random() < 0.6:
                    user, reply = rng.choice(THANKS), rng.choice(THANKS_REPLIES)
                else:
                    user, reply = rng.choice(BYE), rng.choice(BYE_REPLIES)
            else:
                user, reply, last = self.exchange(last)
            messages.append({"role": "user", "content": user})
            messages.append({"role": "assistant", "content": reply})
        return messages


# ---- Tokenizer ----

class Tokenizer:
    """SentencePiece BPE with byte fallback, used the way llama.cpp and Tern use a 'llama' vocabulary with
    tokenizer.ggml.add_space_prefix = false: special tokens are cut out of the text first, and each piece of
    text between them is encoded on its own, with no space added in front."""

    def __init__(self, lines):
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, model_type="bpe", vocab_size=VOCAB,
            character_coverage=1.0, byte_fallback=True, normalization_rule_name="identity",
            add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True,
            user_defined_symbols=[IM_START, IM_END], unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            num_threads=1, input_sentence_size=0, shuffle_input_sentence=False, max_sentence_length=4096,
            minloglevel=2)
        self.sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
        self.bos = self.sp.bos_id()
        self.im_start = self.sp.piece_to_id(IM_START)
        self.im_end = self.sp.piece_to_id(IM_END)
        self.special = re.compile("(" + re.escape(IM_START) + "|" + re.escape(IM_END) + ")")

    def encode(self, text):
        out = []
        for part in self.special.split(text):
            if part == IM_START:
                out.append(self.im_start)
            elif part == IM_END:
                out.append(self.im_end)
            elif part:
                out.extend(self.sp.encode(part))
        return out

    def gguf_vocab(self):
        tokens, scores, types = [], [], []
        for i in range(self.sp.get_piece_size()):
            tokens.append(self.sp.id_to_piece(i))
            scores.append(self.sp.get_score(i))
            if self.sp.is_unknown(i):
                types.append(2)
            elif self.sp.is_control(i):
                types.append(3)
            elif self.sp.is_byte(i):
                types.append(6)
            elif i in (self.im_start, self.im_end):
                # User-defined, so that they are recognised in any text (also by llama-perplexity).
                types.append(4)
            else:
                types.append(1)
        return tokens, scores, types


# ---- Model ----

def rope_tables(hd, n):
    """cos and sin for llama.cpp's normal (non-NeoX) RoPE: pairs (2i, 2i+1) rotate by pos * base^(-2i/hd)."""
    inv = ROPE_BASE ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope(x, cos, sin):
    """x: (batch, heads, T, hd), rotated in interleaved pairs exactly as ggml_rope mode 0 does."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.weight


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        hd = DIM // N_HEADS
        self.attn_norm = RMSNorm(DIM)
        self.attn_q = torch.nn.Linear(DIM, N_HEADS * hd, bias=False)
        self.attn_k = torch.nn.Linear(DIM, N_KV_HEADS * hd, bias=False)
        self.attn_v = torch.nn.Linear(DIM, N_KV_HEADS * hd, bias=False)
        self.attn_output = torch.nn.Linear(N_HEADS * hd, DIM, bias=False)
        self.ffn_norm = RMSNorm(DIM)
        self.ffn_gate = torch.nn.Linear(DIM, FFN, bias=False)
        self.ffn_up = torch.nn.Linear(DIM, FFN, bias=False)
        self.ffn_down = torch.nn.Linear(FFN, DIM, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        hd = DIM // N_HEADS
        h = self.attn_norm(x)
        q = self.attn_q(h).view(B, T, N_HEADS, hd).transpose(1, 2)
        k = self.attn_k(h).view(B, T, N_KV_HEADS, hd).transpose(1, 2)
        v = self.attn_v(h).view(B, T, N_KV_HEADS, hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = N_HEADS // N_KV_HEADS                    # query head j uses key/value head j // rep, as in llama.cpp
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = torch.baddbmm(mask, q.reshape(B * N_HEADS, T, hd), k.reshape(B * N_HEADS, T, hd).transpose(1, 2),
                            alpha=1.0 / math.sqrt(hd))
        o = (torch.softmax(att, dim=-1) @ v.reshape(B * N_HEADS, T, hd)).view(B, N_HEADS, T, hd)
        x = x + self.attn_output(o.transpose(1, 2).reshape(B, T, DIM))
        h = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h))


class Llama(torch.nn.Module):
    def __init__(self, n_vocab):
        super().__init__()
        self.token_embd = torch.nn.Embedding(n_vocab, DIM)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(N_LAYERS))
        self.output_norm = RMSNorm(DIM)
        cos, sin = rope_tables(DIM // N_HEADS, CTX)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.triu(torch.full((CTX, CTX), float("-inf")), 1)
        self.register_buffer("mask", mask, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * N_LAYERS) if name.endswith(("attn_output.weight", "ffn_down.weight")) else 0.02
                torch.nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.token_embd(idx)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], self.mask[:T, :T])
        return self.output_norm(x) @ self.token_embd.weight.t()    # the output matrix is tied to the embedding


def perplexity(model, tokens, bos, ctx=CTX):
    """llama-perplexity's convention: chunks of ctx tokens, the first replaced by BOS, the second half scored."""
    nll, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for c in range(len(tokens) // ctx):
            chunk = list(tokens[c * ctx:(c + 1) * ctx])
            chunk[0] = bos
            t = torch.tensor([chunk])
            logp = torch.log_softmax(model(t)[0].double(), dim=-1)
            first = ctx // 2
            for i in range(first, ctx - 1):
                nll -= logp[i, chunk[i + 1]].item()
                count += 1
    model.train()
    return math.exp(nll / count)


# ---- GGUF ----

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16 = 0, 1
ALIGN = 32


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, value):
    if vtype == GGUF_STRING:
        return gguf_string(value)
    if vtype == GGUF_ARRAY:
        etype, items = value
        out = struct.pack("<IQ", etype, len(items))
        if etype == GGUF_STRING:
            return out + b"".join(gguf_string(x) for x in items)
        fmt = {GGUF_I32: "<i", GGUF_F32: "<f", GGUF_U32: "<I"}[etype]
        return out + b"".join(struct.pack(fmt, x) for x in items)
    fmt = {GGUF_U32: "<I", GGUF_I32: "<i", GGUF_F32: "<f", GGUF_BOOL: "<?"}[vtype]
    return struct.pack(fmt, value)


def write_gguf(path, kv, tensors):
    """kv: [(key, type, value)]; tensors: [(name, numpy array)], F32 or F16, written row-major so that the
    GGUF dimensions are the array's shape reversed (ne[0] is the row length)."""
    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, vtype, value in kv:
        out += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    offset = 0
    blobs = []
    for name, arr in tensors:
        ttype = {np.dtype(np.float32): GGML_F32, np.dtype(np.float16): GGML_F16}[arr.dtype]
        out += gguf_string(name) + struct.pack("<I", arr.ndim)
        out += b"".join(struct.pack("<Q", d) for d in reversed(arr.shape))
        out += struct.pack("<IQ", ttype, offset)
        blob = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        blobs.append(blob + b"\0" * (-len(blob) % ALIGN))
        offset += len(blobs[-1])
    out += b"\0" * (-len(out) % ALIGN)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def export(model, tok, path):
    tokens, scores, types = tok.gguf_vocab()
    kv = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.name", GGUF_STRING, "Tern demo"),
        ("general.description", GGUF_STRING,
         "A toy chat model trained on WordNet 3.0 word definitions; not an assistant. "
         "Made by data/demo-model/train-demo-model.py in Tern."),
        ("general.license", GGUF_STRING, "WordNet-3.0"),
        ("general.file_type", GGUF_U32, 1),
        ("llama.context_length", GGUF_U32, CTX),
        ("llama.embedding_length", GGUF_U32, DIM),
        ("llama.block_count", GGUF_U32, N_LAYERS),
        ("llama.feed_forward_length", GGUF_U32, FFN),
        ("llama.rope.dimension_count", GGUF_U32, DIM // N_HEADS),
        ("llama.attention.head_count", GGUF_U32, N_HEADS),
        ("llama.attention.head_count_kv", GGUF_U32, N_KV_HEADS),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_F32, NORM_EPS),
        ("llama.rope.freq_base", GGUF_F32, ROPE_BASE),
        ("llama.vocab_size", GGUF_U32, len(tokens)),
        ("tokenizer.ggml.model", GGUF_STRING, "llama"),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tokens)),
        ("tokenizer.ggml.scores", GGUF_ARRAY, (GGUF_F32, scores)),
        ("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_I32, types)),
        ("tokenizer.ggml.bos_token_id", GGUF_U32, tok.bos),
        ("tokenizer.ggml.eos_token_id", GGUF_U32, tok.im_end),
        ("tokenizer.ggml.unknown_token_id", GGUF_U32, tok.sp.unk_id()),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
        ("tokenizer.ggml.add_space_prefix", GGUF_BOOL, False),
        ("tokenizer.chat_template", GGUF_STRING, CHAT_TEMPLATE),
    ]

    def w(t, dtype=np.float16):
        return t.detach().cpu().numpy().astype(dtype)

    tensors = [("token_embd.weight", w(model.token_embd.weight))]
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        tensors += [
            (p + "attn_norm.weight", w(b.attn_norm.weight, np.float32)),
            (p + "attn_q.weight", w(b.attn_q.weight)),
            (p + "attn_k.weight", w(b.attn_k.weight)),
            (p + "attn_v.weight", w(b.attn_v.weight)),
            (p + "attn_output.weight", w(b.attn_output.weight)),
            (p + "ffn_norm.weight", w(b.ffn_norm.weight, np.float32)),
            (p + "ffn_gate.weight", w(b.ffn_gate.weight)),
            (p + "ffn_up.weight", w(b.ffn_up.weight)),
            (p + "ffn_down.weight", w(b.ffn_down.weight)),
        ]
    tensors.append(("output_norm.weight", w(model.output_norm.weight, np.float32)))
    write_gguf(path, kv, tensors)


def round_to_f16(model):
    """Rounds the matrices to F16, as exported, so the perplexity measured here is the file's."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(p.half().float())


# ---- Main ----

def pack(stream, bos, length, n_rows):
    """n_rows rows of @length tokens: BOS, then conversations from @stream, the last one cut at the row's end."""
    rows, row = [], [bos]
    while len(rows) < n_rows:
        ids = next(stream, None)
        if ids is None:
            sys.exit(f"not enough conversations for {n_rows} rows of {length}: raise N_TRAIN_CONVERSATIONS")
        row += ids[:length - len(row)]
        if len(row) == length:
            rows.append(row)
            row = [bos]
    return torch.tensor(rows, dtype=torch.long)


def fast_malloc():
    """Keeps glibc from handing big freed blocks back to the kernel: PyTorch frees and reallocates its large
    activations every step, and faulting those pages in again took a third of the training time."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-4, 0)             # M_MMAP_MAX: no mmap for big blocks
        libc.mallopt(-1, 1 << 30)       # M_TRIM_THRESHOLD: keep up to 1 GiB of free heap
    except OSError:
        pass


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Train Tern's demo model.")
    ap.add_argument("--out", default=os.path.join(here, "tern-demo.gguf"), help="the GGUF file to write")
    ap.add_argument("--heldout", default=os.path.join(here, "heldout.txt"), help="the held-out text to write")
    ap.add_argument("--short-steps", type=int, default=STEPS_SHORT, help="steps on half rows (default %(default)s)")
    ap.add_argument("--long-steps", type=int, default=STEPS_LONG, help="steps on whole rows (default %(default)s)")
    ap.add_argument("--samples", type=int, default=0, help="print this many sample conversations and stop")
    args = ap.parse_args()

    fast_malloc()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()

    lex = Lexicon()
    rng = random.Random(SEED)
    train_talk = Talk(lex, lex.train, lex.train_weights, rng)
    if args.samples:
        for _ in range(args.samples):
            print(render(train_talk.conversation()))
        return
    train_convs = [render(train_talk.conversation()) for _ in range(N_TRAIN_CONVERSATIONS)]
    held_talk = Talk(lex, lex.heldout, lex.heldout_weights, random.Random(SEED + 1))
    heldout_text = "".join(render(held_talk.conversation()) for _ in range(N_HELDOUT_CONVERSATIONS))
    with open(args.heldout, "w", encoding="utf-8") as f:
        f.write(heldout_text)
    print(f"corpus: {len(lex.train)} training lemmas, {len(lex.heldout)} held out, "
          f"{len(train_convs)} conversations, {sum(map(len, train_convs))} characters", flush=True)

    lines = [ln for c in train_convs for part in re.split(r"<\|im_(?:start|end)\|>", c)
             for ln in part.split("\n") if ln]
    tok = Tokenizer(lines)

    # Rows start with BOS, as a chat does, followed by whole conversations; the last one is cut where the
    # row ends. Every conversation is seen once.
    stream = iter(tok.encode(c) for c in train_convs)
    short = pack(stream, tok.bos, CTX // 2, args.short_steps * BATCH_SHORT)
    long = pack(stream, tok.bos, CTX, args.long_steps * BATCH_LONG)
    print(f"tokens: {short.numel()} in rows of {CTX // 2}, {long.numel()} in rows of {CTX}; "
          f"corpus and tokenizer took {time.time() - t0:.0f} s", flush=True)

    model = Llama(len(tok.gguf_vocab()[0]))
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95), eps=1e-8)
    steps = args.short_steps + args.long_steps
    print(f"model: {n_params} parameters; training {steps} steps on {THREADS} threads", flush=True)
    t_train = time.time()
    smooth = None
    for step in range(steps):
        if step < WARMUP:
            lr = LR * (step + 1) / WARMUP
        else:
            lr = LR_MIN + 0.5 * (LR - LR_MIN) * (1 + math.cos(math.pi * (step - WARMUP) / max(1, steps - WARMUP)))
        for g in opt.param_groups:
            g["lr"] = lr
        if step < args.short_steps:
            batch = short[step * BATCH_SHORT:(step + 1) * BATCH_SHORT]
        else:
            i = step - args.short_steps
            batch = long[i * BATCH_LONG:(i + 1) * BATCH_LONG]
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        smooth = loss.item() if smooth is None else 0.95 * smooth + 0.05 * loss.item()
        if step % 25 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}  (smoothed {smooth:.4f})  lr {lr:.2e}  "
                  f"{time.time() - t_train:.0f} s", flush=True)
    train_time = time.time() - t_train

    round_to_f16(model)
    held_ids = [tok.bos] + tok.encode(heldout_text)
    ppl = perplexity(model, held_ids, tok.bos)
    export(model, tok, args.out)
    print(f"final training loss (smoothed): {smooth:.4f}", flush=True)
    print(f"held-out: {len(heldout_text)} characters, {len(held_ids)} tokens; "
          f"perplexity (torch, F16 weights, llama-perplexity convention, ctx {CTX}): {ppl:.4f}", flush=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes); training {train_time:.0f} s, "
          f"total {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
