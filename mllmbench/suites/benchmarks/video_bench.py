"""Video benchmarks read from local copies: MVBench, Video-MME, ActivityNet-QA.

Nothing is downloaded; a missing file raises an `InputError` naming it and where it comes from.
Each sample carries its clip in `Sample.video`; the runner samples frames with the run's policy
(``--video-frames``/``--video-fps``; lmms-eval's defaults differ per model, so set it).

* ``mvbench``: the lmms-eval layout of ``OpenGVLab/MVBench`` (revision ``video``):
  ``DIR/json/<task>.json`` for the 20 tasks (``[{"video", "question", "candidates", "answer"}]``)
  and the clips under ``DIR/video/<folder>/`` or ``DIR/<folder>/`` (lmms-eval's cache), with the
  pre-cut segments lmms-eval reads (``star/Charades_segment`` ...). Prompt and answer rule:
  lmms-eval ``mvbench_doc_to_text``/``mcq_acc``; accuracy over answered samples, per task, and
  the mean over tasks (how MVBench's leaderboard averages).
* ``videomme``: the ``lmms-lab/Video-MME`` layout: ``DIR/videomme/test-*.parquet`` (columns
  ``videoID, question_id, duration, domain, sub_category, task_type, question, options,
  answer``) and ``DIR/data/<videoID>.mp4`` (``.MP4``/``.mkv`` accepted). Prompt, answer rule
  and accuracy (overall and per duration) as lmms-eval ``videomme`` (no subtitles).
* ``activitynetqa``: the official files of MILVLG/activitynet-qa (``DIR/test_q.json``
  ``[{"video_name", "question_id", "question"}]`` and ``DIR/test_a.json`` ``[{"question_id",
  "answer", "type"}]``) with clips ``v_<video_name>.mp4`` (``.webm``/``.mkv``) in
  ``DIR/all_test/`` (lmms-eval's cache) or ``DIR/videos/``. Prompt as lmms-eval; scored by the
  official exact-match accuracy, overall and per question type (lmms-eval uses a GPT judge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mllmbench.core.errors import ConfigError, InputError
from mllmbench.core.jsonio import read_json
from mllmbench.core.types import Capability
from mllmbench.suites.base import Metric, Sample, Suite
from mllmbench.suites.fingerprint import files_fingerprint

MVBENCH_TASKS: dict[str, str] = {
    "object_interaction": "star/Charades_segment",
    "action_sequence": "star/Charades_segment",
    "action_prediction": "star/Charades_segment",
    "action_localization": "sta/sta_video_segment",
    "moving_count": "clevrer/video_validation",
    "fine_grained_pose": "nturgbd_convert",
    "character_order": "perception/videos",
    "object_shuffle": "perception/videos",
    "egocentric_navigation": "vlnqa",
    "moving_direction": "clevrer/video_validation",
    "episodic_reasoning": "tvqa/video_fps3_hq_segment",
    "fine_grained_action": "Moments_in_Time_Raw/videos",
    "scene_transition": "scene_qa/video",
    "state_change": "perception/videos",
    "moving_attribute": "clevrer/video_validation",
    "action_antonym": "ssv2_video_mp4",
    "unexpected_action": "FunQA_test/test",
    "counterfactual_inference": "clevrer/video_validation",
    "object_existence": "clevrer/video_validation",
    "action_count": "perception/videos",
}
"""Task -> video folder, as lmms-eval's ``tasks/mvbench/utils.py`` ``DATA_LIST``."""
MVBENCH_POST_PROMPT = "Answer with the option's letter from the given choices directly."
VIDEOMME_OPTION_PROMPT = (
    "Select the best answer to the following multiple-choice question based on the video and the "
    "subtitles. Respond with only the letter (A, B, C, or D) of the correct option."
)
"""lmms-eval's wording at 0696573 (it names subtitles even in the variant without them)."""
VIDEOMME_POST_PROMPT = "The best answer is:"
ACTIVITYNET_POST_PROMPT = " Answer the question using a single word or phrase."
ACTIVITYNET_TYPES = {
    "0": "motion",
    "1": "spatial_relation",
    "2": "temporal_relation",
    "3": "yes_no",
    "4": "color",
    "5": "object",
    "6": "location",
    "7": "number",
    "8": "other",
}
"""ActivityNet-QA question types (the ``type`` field of ``test_a.json``)."""


def _find_video(candidates: list[Path], owner: str, source: str) -> Path:
    for path in candidates:
        if path.is_file():
            return path
    raise InputError(f"{owner}: video {candidates[0]} not found (it comes from {source})")


class _VideoBenchmark(Suite):
    requires = Capability.UNDERSTAND | Capability.VIDEO
    source: ClassVar[str] = ""

    @classmethod
    def default_data_dir(cls) -> Path:
        """None: read from the user's copy."""
        raise ConfigError(
            f"suite {cls.name!r} reads a local copy, never a download: pass --data with {cls.source}"
        )


class MVBenchSuite(_VideoBenchmark):
    """MVBench's 20 temporal tasks, lmms-eval's prompt and answer rule."""

    name = "mvbench"
    version = "1"
    description = "MVBench (20 video tasks), lmms-eval layout and answer rule: accuracy per task and overall"
    metric_names = ("mvbench_accuracy", "mvbench_task_mean")
    expected_files = ("json/<task>.json x 20", "video/<folder>/ (OpenGVLab/MVBench, revision video)")
    source = "OpenGVLab/MVBench (json/ and the video/ zips of revision 'video')"

    def _json(self, task: str) -> Path:
        path = self.data_dir / "json" / f"{task}.json"
        if not path.is_file():
            raise InputError(f"MVBench task file {path} not found (it comes from {self.source})")
        return path

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Every task's questions, tasks in lmms-eval's order."""
        out: list[Sample] = []
        for task, folder in MVBENCH_TASKS.items():
            path = self._json(task)
            items = read_json(path, what="MVBench task file")
            if not isinstance(items, list):
                raise InputError(f"{path}: expected a JSON list of questions")
            for i, item in enumerate(items):
                if limit is not None and len(out) >= limit:
                    return out
                owner = f"{path} item {i}"
                try:
                    video, question = str(item["video"]), str(item["question"])
                    candidates, answer = [str(c) for c in item["candidates"]], str(item["answer"])
                except (KeyError, TypeError) as exc:
                    raise InputError(
                        f"{owner}: needs video, question, candidates, answer ({exc!r})"
                    ) from None
                if answer not in candidates:
                    raise InputError(f"{owner}: answer {answer!r} is not one of the candidates")
                letters = [chr(ord("A") + k) for k in range(len(candidates))]
                options = "".join(f"({letter}) {c}\n" for letter, c in zip(letters, candidates, strict=True))
                text = "Question:" + question + "\nOption:\n" + options + MVBENCH_POST_PROMPT
                clip = _find_video(
                    [self.data_dir / "video" / folder / video, self.data_dir / folder / video],
                    owner,
                    self.source,
                )
                gt = letters[candidates.index(answer)]
                meta = {"task": task, "candidates": candidates, "answer_text": answer, "video_file": video}
                out.append(Sample(f"{task}/{i}", (), text, (gt,), meta, video=str(clip)))
        return out

    def metrics(self) -> list[Metric]:
        """Accuracy over answered samples (per task too), and the mean of the task accuracies."""
        from mllmbench.suites.metrics.video_qa import GroupedAccuracy, mvbench_correct

        def judge(sample: Sample, answer: str) -> bool | None:
            return None if answer == "" else mvbench_correct(sample.references[0], answer)

        return [_TaskMean(GroupedAccuracy("mvbench_accuracy", judge, "task", skip_unanswered=True))]

    def dataset_fingerprint(self) -> str:
        """Hash of the 20 task files."""
        return files_fingerprint([self._json(t) for t in MVBENCH_TASKS])

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {
            "layout": "lmms-eval (OpenGVLab/MVBench, revision video)",
            "post_prompt": MVBENCH_POST_PROMPT,
            "answer_rule": "lmms-eval mcq_acc",
            "reference": "lmms-eval tasks/mvbench/utils.py @1ab9504",
        }


class _TaskMean(Metric):
    """`GroupedAccuracy` plus ``mvbench_task_mean``: the unweighted mean of the per-task accuracies."""

    name = "mvbench_accuracy"
    version = "1"

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def update(self, sample: Sample, answer: str) -> dict[str, float]:
        """Delegate."""
        return dict(self.inner.update(sample, answer))

    def merge(self, other: Metric) -> None:
        """Delegate."""
        if not isinstance(other, _TaskMean):
            raise TypeError("can only merge the same metric")
        self.inner.merge(other.inner)

    def compute(self) -> Any:
        """The inner values plus the task mean."""
        from mllmbench.suites.base import MetricResult, MetricValue

        result = self.inner.compute()
        tasks = [v.value for k, v in result.values.items() if k.startswith("mvbench_accuracy/")]
        values = dict(result.values)
        if tasks:
            values["mvbench_task_mean"] = MetricValue(value=sum(tasks) / len(tasks), n=len(tasks), unit="%")
        return MetricResult(values=values, per_sample=result.per_sample, notes=result.notes)


class VideoMMESuite(_VideoBenchmark):
    """Video-MME without subtitles, lmms-eval's prompt and answer rule."""

    name = "videomme"
    version = "1"
    description = (
        "Video-MME (no subtitles), lmms-eval layout and answer rule: accuracy overall and per duration"
    )
    metric_names = ("videomme_accuracy",)
    expected_files = ("videomme/test-*.parquet", "data/<videoID>.mp4 (lmms-lab/Video-MME)")
    source = (
        "lmms-lab/Video-MME (videomme/test-*.parquet and the videos_chunked_*.zip files, unzipped to data/)"
    )
    columns: ClassVar[tuple[str, ...]] = (
        "videoID", "question_id", "duration", "domain", "sub_category", "task_type", "question", "options", "answer",
    )  # fmt: skip

    def _split(self) -> Any:
        from mllmbench.suites.formats.hf_parquet import find_split

        split = find_split(self.data_dir, ("test",), ("videomme", "data", ""))
        if split is None:
            raise InputError(
                f"suite 'videomme': no videomme/test-*.parquet in {self.data_dir} (from {self.source})"
            )
        return split

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """One sample per question, in file order."""
        from mllmbench.suites.formats.hf_parquet import require_cell

        split = self._split()
        split.require_columns(self.columns, "lmms-lab/Video-MME")
        out: list[Sample] = []
        for source, index, row in split.iter_rows(self.columns):
            if limit is not None and len(out) >= limit:
                break
            owner = f"row {index} (question_id {row.get('question_id')!r})"
            video_id = require_cell(row, "videoID", str, source, owner)
            options = [str(o) for o in require_cell(row, "options", list, source, owner)]
            question = require_cell(row, "question", str, source, owner) + "\n" + "\n".join(options)
            text = VIDEOMME_OPTION_PROMPT + "\n" + question + "\n" + VIDEOMME_POST_PROMPT
            base = self.data_dir / "data" / video_id
            clip = _find_video(
                [base.with_suffix(".mp4"), base.with_suffix(".MP4"), base.with_suffix(".mkv")],
                f"{source} {owner}",
                self.source,
            )
            answer = require_cell(row, "answer", str, source, owner)
            meta = {k: row.get(k) for k in ("question_id", "duration", "domain", "sub_category", "task_type")}
            out.append(
                Sample(
                    str(row["question_id"]),
                    (),
                    text,
                    (answer,),
                    {**meta, "videoID": video_id},
                    video=str(clip),
                )
            )
        return out

    def metrics(self) -> list[Metric]:
        """Accuracy overall and per duration (short/medium/long)."""
        from mllmbench.suites.metrics.video_qa import GroupedAccuracy, videomme_extract

        def judge(sample: Sample, answer: str) -> bool:
            return videomme_extract(answer).lower() == sample.references[0].lower()

        return [GroupedAccuracy("videomme_accuracy", judge, "duration")]

    def dataset_fingerprint(self) -> str:
        """The parquet split's fingerprint."""
        return str(self._split().fingerprint())

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {
            "layout": "hf_parquet (lmms-lab/Video-MME)",
            "subtitles": False,
            "answer_rule": "lmms-eval extract_characters_regex",
            "reference": "lmms-eval tasks/videomme/utils.py @0696573",
        }


class ActivityNetQASuite(_VideoBenchmark):
    """ActivityNet-QA test split, official files, exact-match accuracy."""

    name = "activitynetqa"
    version = "1"
    description = "ActivityNet-QA (official test files): exact-match accuracy overall and per question type"
    metric_names = ("activitynetqa_accuracy",)
    expected_files = ("test_q.json", "test_a.json", "all_test/v_<video_name>.mp4 (or videos/)")
    source = "MILVLG/activitynet-qa (dataset/test_q.json, test_a.json) and the ActivityNet test videos"

    def _file(self, name: str) -> Path:
        path = self.data_dir / name
        if not path.is_file():
            raise InputError(f"ActivityNet-QA file {path} not found (it comes from {self.source})")
        return path

    def load_samples(self, limit: int | None = None) -> list[Sample]:
        """Questions in test_q.json order, joined with their answers by question_id."""
        questions = read_json(self._file("test_q.json"), what="ActivityNet-QA questions")
        answers_file = self._file("test_a.json")
        try:
            answers = {
                str(a["question_id"]): a for a in read_json(answers_file, what="ActivityNet-QA answers")
            }
        except (KeyError, TypeError) as exc:
            raise InputError(f"{answers_file}: expected [{{question_id, answer, type}}] ({exc!r})") from None
        out: list[Sample] = []
        for i, q in enumerate(questions):
            if limit is not None and len(out) >= limit:
                break
            owner = f"{self.data_dir / 'test_q.json'} item {i}"
            try:
                qid, name, question = str(q["question_id"]), str(q["video_name"]), str(q["question"])
            except (KeyError, TypeError) as exc:
                raise InputError(f"{owner}: needs video_name, question_id, question ({exc!r})") from None
            if qid not in answers:
                raise InputError(f"{owner}: question_id {qid!r} has no answer in {answers_file}")
            stems = [self.data_dir / d / f"v_{name}" for d in ("all_test", "videos")]
            clip = _find_video(
                [s.with_suffix(ext) for s in stems for ext in (".mp4", ".webm", ".mkv")], owner, self.source
            )
            kind = ACTIVITYNET_TYPES.get(str(answers[qid].get("type")), str(answers[qid].get("type")))
            text = question + "?" + ACTIVITYNET_POST_PROMPT
            meta = {"question_id": qid, "video_name": name, "question_type": kind}
            out.append(Sample(qid, (), text, (str(answers[qid]["answer"]),), meta, video=str(clip)))
        return out

    def metrics(self) -> list[Metric]:
        """Exact-match accuracy overall and per question type."""
        from mllmbench.suites.metrics.video_qa import GroupedAccuracy, activitynet_normalize

        def judge(sample: Sample, answer: str) -> bool:
            return activitynet_normalize(answer) == activitynet_normalize(sample.references[0])

        return [GroupedAccuracy("activitynetqa_accuracy", judge, "question_type")]

    def dataset_fingerprint(self) -> str:
        """Hash of the question and answer files."""
        return files_fingerprint([self._file("test_q.json"), self._file("test_a.json")])

    def scoring_info(self) -> dict[str, Any]:
        """Recorded in run.json next to the metrics."""
        return {
            "layout": "official (MILVLG/activitynet-qa)",
            "answer_rule": "exact match (lower case, stripped)",
            "not_reproduced": "lmms-eval's GPT-judge accuracy and score",
        }
