"""Queries of trained word vectors: nearest words, analogies, analogy accuracy (the word2vec workshop's calls)."""

import numpy as np

from tfkit.data.vectors import analogy_accuracy
from tfkit.errors import TfkitError


class WordQueries:
    """``nearby``, ``analogy`` and ``analogy_accuracy`` over ``self.word_vectors()`` and ``self.vocabulary``."""

    def _unit_vectors(self):
        _, vectors = self.word_vectors()
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _ids(self, words):
        index = {word: i for i, word in enumerate(self.vocabulary)}
        words = [w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in words]
        unknown = [w for w in words if w not in index]
        if unknown:
            raise TfkitError(f"Word2Vec: {unknown[0]!r} is not in the vocabulary ({len(index)} words).")
        return [index[w] for w in words]

    def nearby(self, words, k=10):
        """The ``k`` nearest words (cosine) of each of ``words``: a list of ``[(word, similarity), ...]``.

        Like the word2vec workshop's ``model.nearby([b"cat"])``; words may be ``str`` or ``bytes``.
        """
        if isinstance(words, (str, bytes)):
            words = [words]
        unit = self._unit_vectors()
        results = []
        for i in self._ids(words):
            similarity = unit @ unit[i]
            similarity[i] = -np.inf
            best = np.argsort(-similarity)[:k]
            results.append([(self.vocabulary[j], float(similarity[j])) for j in best])
        return results

    def analogy(self, a, b, c, k=1):
        """``a`` is to ``b`` as ``c`` is to the answer (3CosAdd over unit vectors, question words excluded).

        ``model.analogy("cat", "kitten", "dog")`` → ``"puppy"`` on a good model; with ``k > 1``, the
        ``k`` best answers as ``[(word, score), ...]``.
        """
        unit = self._unit_vectors()
        ia, ib, ic = self._ids([a, b, c])
        scores = unit @ (unit[ib] - unit[ia] + unit[ic])
        scores[[ia, ib, ic]] = -np.inf
        best = np.argsort(-scores)[:k]
        return self.vocabulary[best[0]] if k == 1 else [(self.vocabulary[j], float(scores[j])) for j in best]

    def analogy_accuracy(self, questions):
        """Accuracy on analogy questions ``a b c d`` (word2vec's ``questions-words.txt``, or a list of 4-tuples).

        Questions with a word outside the vocabulary are skipped, as word2vec's ``compute-accuracy`` does.
        Returns ``{"accuracy", "correct", "questions", "skipped"}``.
        """
        return analogy_accuracy(self.vocabulary, self._unit_vectors(), questions)
