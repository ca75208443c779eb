"""Word vectors in word2vec's file formats: text (``.txt``/``.vec``) and binary (``.bin``).

Both start with a header line ``<number of words> <dimension>``. The text
format then has one line per word, ``word v1 v2 ... vd``; the binary format
has, per word, the word, a space and ``d`` little-endian float32 values
(optionally followed by a newline), as word2vec's ``-binary 1`` writes them
(and Google's pretrained ``GoogleNews-vectors-negative300.bin``).
"""

import numpy as np

from tfkit.errors import DataError
from tfkit.io.files import replacing


def write_word_vectors(path, words, vectors, binary=False):
    """Writes ``vectors[i]`` of ``words[i]`` to ``path``, atomically (a temporary file renamed into place).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from tfkit.data import read_word_vectors, write_word_vectors
    >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
    >>> write_word_vectors(path, ["cat", "dog"], np.array([[0.5, 1.0], [0.25, -2.0]]))
    >>> open(path).read().splitlines()[:2]
    ['2 2', 'cat 0.5 1']
    >>> words, vectors = read_word_vectors(path)
    >>> words, vectors.tolist()
    (['cat', 'dog'], [[0.5, 1.0], [0.25, -2.0]])
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    words = [str(w) for w in words]
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise DataError(f"write_word_vectors needs one vector per word: {len(words)} words, vectors of shape {vectors.shape}.")
    spaced = [w for w in words if not w or any(c.isspace() for c in w)]
    if spaced:
        raise DataError(f"write_word_vectors: words must be non-empty and hold no whitespace; received {spaced[0]!r}.")
    with replacing(path) as temporary, open(temporary, "wb") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for word, vector in zip(words, vectors):
            if binary:
                f.write(word.encode("utf-8") + b" " + vector.astype("<f4").tobytes() + b"\n")
            else:
                f.write((word + " " + " ".join(f"{v:.7g}" for v in vector) + "\n").encode("utf-8"))


def read_word_vectors(path, vocabulary=None, binary=None):
    """Reads a word2vec vectors file: ``(words, float32 [len(words), dimension] vectors)``.

    Args:
        path: The file.
        vocabulary: Keep only these words (saves memory with large files).
        binary: The binary format; None tells the formats apart from the
            file itself.

    A malformed file raises :class:`~tfkit.errors.DataError` naming the file
    and line (text) or word number (binary).
    """
    try:
        with open(path, "rb") as f:
            header = f.readline()
            fields = header.split()
            if len(fields) != 2 or not all(field.isdigit() for field in fields):
                raise DataError(f"{path}:1: expected the header '<number of words> <dimension>'; found {header[:80]!r}.")
            count, dimension = int(fields[0]), int(fields[1])
            if binary is None:
                binary = _looks_binary(f, dimension)
            keep = None if vocabulary is None else set(vocabulary)
            reader = _read_binary if binary else _read_text
            words, vectors = reader(f, path, count, dimension, keep)
    except OSError as error:
        raise DataError(f"Cannot read word vectors {path!r}: {error.strerror}.") from None
    return words, np.asarray(vectors, dtype=np.float32).reshape(len(words), dimension)


def analogy_accuracy(words, unit_vectors, questions):
    """Accuracy of 3CosAdd over ``unit_vectors`` (rows of ``words``) on analogy questions ``a b c d``.

    ``questions`` is word2vec's ``questions-words.txt`` (a path) or a list of
    4-tuples; those with a word outside ``words`` are skipped, as word2vec's
    ``compute-accuracy`` does. Returns ``{"accuracy", "correct", "questions", "skipped"}``.
    """
    if isinstance(questions, str):
        with open(questions, encoding="utf-8") as f:
            questions = [line.lower().split() for line in f if line.strip() and not line.startswith(":")]
    index = {word: i for i, word in enumerate(words)}
    known = [q for q in questions if len(q) == 4 and all(w in index for w in q)]
    correct = 0
    if known:
        ids = np.array([[index[w] for w in q] for q in known])
        scores = (unit_vectors[ids[:, 1]] - unit_vectors[ids[:, 0]] + unit_vectors[ids[:, 2]]) @ unit_vectors.T
        np.put_along_axis(scores, ids[:, :3], -np.inf, axis=1)
        correct = int((scores.argmax(axis=1) == ids[:, 3]).sum())
    return {"accuracy": correct / len(known) if known else 0.0, "correct": correct, "questions": len(known),
            "skipped": len(questions) - len(known)}


def _looks_binary(f, dimension):
    start = f.tell()
    line = f.readline()
    f.seek(start)
    try:
        fields = line.decode("utf-8").split()
        [float(v) for v in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        return True
    return len(fields) != dimension + 1


def _read_text(f, path, count, dimension, keep):
    words, vectors, number = [], [], 1
    for number, line in enumerate(f, start=2):
        fields = line.decode("utf-8", errors="replace").rstrip("\n").rstrip().split(" ")
        if len(fields) != dimension + 1:
            raise DataError(f"{path}:{number}: expected a word and {dimension} numbers; found {len(fields) - 1} numbers.")
        if keep is not None and fields[0] not in keep:
            continue
        try:
            vectors.append([float(v) for v in fields[1:]])
        except ValueError:
            raise DataError(f"{path}:{number}: the vector of {fields[0]!r} holds a value that is not a number.") from None
        words.append(fields[0])
    if number - 1 != count:
        raise DataError(f"{path}: the header announces {count} words; the file holds {number - 1}.")
    return words, vectors


def _read_binary(f, path, count, dimension, keep):
    words, vectors, size = [], [], 4 * dimension
    for number in range(1, count + 1):
        word = bytearray()
        while True:
            character = f.read(1)
            if not character:
                raise DataError(f"{path}: the header announces {count} words; the file ends in word {number}.")
            if character == b" ":
                break
            if character != b"\n" or word:  # the newline after the previous vector
                word += character
        vector = f.read(size)
        if len(vector) != size:
            raise DataError(f"{path}: word {number} ({bytes(word)[:40]!r}) has {len(vector)} of its {size} vector bytes.")
        word = word.decode("utf-8", errors="replace")
        if keep is None or word in keep:
            words.append(word)
            vectors.append(np.frombuffer(vector, dtype="<f4"))
    return words, vectors
