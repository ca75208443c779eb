"""Word2Vec on parameter-server clusters: each worker its own part of the data, and `tfkit word2vec` under tfkit launch."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, STRICT_WARNINGS, run_python
from tests.distribute.test_launch import assert_no_process_left
from tests.models.test_word2vec import planted_corpus, topic_neighbour_rate


@pytest.mark.slow
def test_each_worker_reads_its_own_part():
    # Worker i's dataset repeats (i, number of workers): each function counts what its worker's dataset gave it.
    code = """
import json, tensorflow as tf
from tfkit import distribute
from tfkit.distribute.worker_parts import per_worker_iterator
resolver, servers = distribute.cluster.local_cluster(num_workers=2, num_ps=1)
strategy = distribute.get("parameter_server", cluster_resolver=resolver)
coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
with strategy.scope():
    seen = tf.Variable(tf.zeros([2, 3], tf.int64))  # [worker index, number of workers]
iterator = per_worker_iterator(coordinator, lambda index, count: tf.data.Dataset.from_tensors([index, count]).repeat())
@tf.function
def step(iterator):
    seen.scatter_nd_add([tf.cast(next(iterator), tf.int64)], [1])
for _ in range(40):
    coordinator.schedule(step, args=(iterator,))
coordinator.join()
print(json.dumps(seen.numpy().tolist()))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # Both workers ran functions, each on its own data, and every worker was told there are two.
    assert seen[0][2] > 0 and seen[1][2] > 0 and seen[0][2] + seen[1][2] == 40
    assert seen[0][:2] == [0, 0] and seen[1][:2] == [0, 0]


def test_corpus_parts_cover_the_corpus_once(tmp_path):
    from tfkit.data.skip_grams import TextFiles, corpus_lines, corpus_part, part_lines

    files = []
    for name in "abc":
        path = tmp_path / f"{name}.txt"
        path.write_text("".join(f"{name}{i}\n" for i in range(5)))
        files.append(str(path))
    by_file = [corpus_part(files, index, 2) for index in range(2)]
    assert by_file == [TextFiles([files[0], files[2]]), TextFiles([files[1]])]
    lines = [sorted(x.decode() for x in corpus_lines(corpus_part(files, index, 4)).as_numpy_iterator()) for index in range(4)]
    assert sorted(sum(lines, [])) == sorted(f"{n}{i}" for n in "abc" for i in range(5)) and all(lines)
    assert corpus_part(["s0", "s1", "s2"], 1, 2) == ["s1"]
    # The lines of each part, as an epoch counts its steps: by file (5 + 5, 5) and by line (15 over 4 parts).
    assert part_lines(files, 2) == [10, 5] and part_lines(files, 4) == [len(part) for part in lines] == [4, 4, 4, 3]
    assert part_lines(["s0", "s1", "s2"], 2) == [2, 1]


def launch_word2vec(*arguments):
    """``tfkit launch --workers 2 --ps 1 -- tfkit word2vec ARGUMENTS``: (exit status, output), which holds no warning.

    TensorFlow's C++ errors are not hidden (each task quiets its start-up lines itself, as for a user),
    so that what the chief logs about the other tasks' functions shows.
    """
    command = [sys.executable, "-m", "tfkit.cli", "launch", "--workers", "2", "--ps", "1", "--",
               sys.executable, "-m", "tfkit.cli", "word2vec", *arguments]
    environment = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**environment, "PYTHONWARNINGS": STRICT_WARNINGS})
    output = result.stdout + result.stderr
    assert "WARNING:tensorflow" not in output and "Warning:" not in output, output[-3000:]
    return result.returncode, output


@pytest.mark.slow
def test_tfkit_word2vec_on_a_launched_cluster_recovers_planted_topics_from_latin_1_files(tmp_path):
    corpus, topics, questions = planted_corpus()
    # Every topic word spelled with an e-acute, the files in Latin-1 (one byte, not UTF-8): each worker transcodes.
    corpus, topics = [line.replace("x", "\u00e9") for line in corpus], [[w.replace("x", "\u00e9") for w in t] for t in topics]
    files = []
    for index, part in enumerate((corpus[:1500], corpus[1500:])):
        path = tmp_path / f"part{index}.txt"
        path.write_bytes(("\n".join(part) + "\n").encode("latin-1"))
        files.append(str(path))
    output = tmp_path / "vectors" / "vectors.txt"
    output.parent.mkdir()
    status, output_text = launch_word2vec(*files, "--encoding", "latin-1", "--output", str(output), "--dimension", "32",
                                          "--window", "3", "--min-count", "1", "--subsample", "0", "--epochs", "10",
                                          "--batch-words", "2000", "--seed", "0")
    assert status == 0, output_text[-5000:]
    assert "[chief] Training word2vec on parameter_server: 2 workers, 1 ps." in output_text
    assert "remotely" not in output_text, output_text[-5000:]
    for role in ("ps:0", "worker:0", "worker:1"):
        assert f"[{role}] {role}: the chief is done; exiting." in output_text
    assert_no_process_left(output_text)
    # Only the chief wrote: the vectors and the mark that let the other tasks go.
    assert sorted(os.listdir(output.parent)) == ["chief_done.json", "vectors.txt"]
    # The decay followed the words of both workers: ten epochs of the corpus, give or take a step a worker.
    words = int(re.search(r"\[chief\] Wrote 76 words x 32 .*; ([\d,]+) words trained", output_text).group(1).replace(",", ""))
    corpus_words = 10 * sum(len(line.split()) for line in corpus)
    assert corpus_words <= words <= 1.1 * corpus_words, (words, corpus_words)

    from tfkit.models import Word2Vec

    model = Word2Vec.from_vectors(str(output))
    assert topic_neighbour_rate(model, topics) >= 0.95
    assert model.analogy_accuracy(questions)["accuracy"] >= 0.85


@pytest.mark.slow
def test_a_chief_that_fails_after_training_says_why_in_one_line_and_stops_the_cluster(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 100)
    output = tmp_path / "vectors.txt"
    output.mkdir()  # a folder where the vectors file should go: the write fails once training is done
    status, output_text = launch_word2vec(str(corpus), "--output", str(output), "--min-count", "1", "--epochs", "1",
                                          "--batch-words", "200")
    assert status == 2, output_text[-5000:]
    chief = [line for line in output_text.splitlines() if line.startswith("[chief]")]
    assert chief[-1] == f"[chief] tfkit word2vec: error: {output}: Is a directory; expected a file name.", chief
    assert "remotely" not in output_text and "Traceback" not in output_text, output_text[-5000:]
    assert "[launch] chief failed with status 2: stopping the cluster." in output_text
    assert_no_process_left(output_text)
    assert os.listdir(output) == [] and sorted(os.listdir(tmp_path)) == ["corpus.txt", "vectors.txt"]
