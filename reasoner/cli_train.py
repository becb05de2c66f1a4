"""`reasoner train sft|grpo|prm`: train the bundled-size models, improve one with GRPO, train a PRM.

Parsing and printing only: the runs are `reasoner.training`'s, and every run
folder resumes when the command is run again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reasoner.cli_options import ENGINE_ARG_HELP, comma_list, key_value, positive_int
from reasoner.errors import OptionError


def add_train(commands) -> None:
    from typing import get_args

    from reasoner.tasks import SolutionPaths

    p = commands.add_parser("train", help="train models")
    kinds = p.add_subparsers(title="kinds")
    s = kinds.add_parser("sft", help="train a bundled-size model from scratch on the task families")
    s.add_argument("--task", action="append", default=None, help="task family (repeatable; default arith and pyfunc)")
    s.add_argument("--weights", default=None, help="comma-separated sampling weight per task, e.g. 0.6,0.4")
    s.add_argument("--size", default="tiny", help="model size: tiny or small")
    s.add_argument("--steps", type=int, default=None, help="optimizer steps")
    s.add_argument("--batch-size", type=int, default=None, help="sequences per step")
    s.add_argument("--lr", type=float, default=None, help="peak learning rate")
    s.add_argument("--seed", type=int, default=0, help="seed for data and initialisation")
    s.add_argument("--init-from", default=None, help="continue from this HF checkpoint instead of a fresh model")
    s.add_argument("--grow-from", default=None,
                   help="start from this trained model widened and deepened to --size (Net2Net)")
    s.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (default 100)")
    s.add_argument("--solution-paths", choices=get_args(SolutionPaths), default=None,
                   help="targets: the reference solution (default) or correct solutions along random paths")
    s.add_argument("--direct-fraction", type=float, default=None,
                   help="share of solve targets at --direct-from-level and up that are the bare answer (default 0)")
    s.add_argument("--direct-from-level", type=int, default=None,
                   help="lowest level given bare-answer targets (default 3)")
    s.add_argument("--threads", type=positive_int, default=None,
                   help="torch threads (default: torch's choice; 1 when two runs share 2 cores)")
    s.add_argument("--stop-at", type=positive_int, default=None,
                   help="pause after this step (checkpointed; --export exports it); re-run without it to go on")
    s.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    s.add_argument("--export", type=Path, default=None, help="also copy the final model here (bf16)")
    s.set_defaults(run=run_train_sft)
    g = kinds.add_parser("grpo", help="improve a model with GRPO on verifier rewards (rollouts on vLLM)")
    g.add_argument("--model", default="tiny", help="starting model: bundled name or HF folder (default tiny)")
    g.add_argument("--task", action="append", default=None, help="task family (repeatable; default arith)")
    g.add_argument("--levels", default=None, help="comma-separated difficulty levels to train on (default: all)")
    g.add_argument("--level-weights", default=None,
                   help="comma-separated sampling weight per --levels entry (default: uniform)")
    g.add_argument("--steps", type=int, default=None, help="rollout-and-update steps")
    g.add_argument("--prompts-per-step", type=int, default=None, help="problems per step (P)")
    g.add_argument("--group-size", type=int, default=None, help="completions per problem (G)")
    g.add_argument("--max-tokens", type=int, default=None, help="cap on tokens per completion")
    g.add_argument("--lr", type=float, default=None, help="learning rate")
    g.add_argument("--beta", type=float, default=None, help="k3 KL weight to the starting model (0 drops it)")
    g.add_argument("--epsilon", type=float, default=None, help="clip range of the policy ratio")
    g.add_argument("--epsilon-high", type=float, default=None, help="separate upper clip range")
    g.add_argument("--reward", choices=["verifier", "ttrl"], default=None,
                   help="verifier: graded against the reference (default); ttrl: agreement with the group's "
                        "majority answer, no reference")
    g.add_argument("--ttrl-min-votes", type=positive_int, default=None,
                   help="with --reward ttrl: completions that must share the majority answer (default 2)")
    g.add_argument("--advantage", choices=["grpo", "dr_grpo"], default=None,
                   help="grpo: (r - mean)/std; dr_grpo: r - mean")
    g.add_argument("--aggregation", choices=["token", "sequence"], default=None,
                   help="average the loss over tokens or per sequence")
    g.add_argument("--updates-per-step", type=int, default=None, help="optimizer steps per rollout batch")
    g.add_argument("--workers", type=int, default=None, help="Ray rollout workers (default: in-process engine)")
    g.add_argument("--ray-address", default=None, help="Ray cluster to join with --workers")
    g.add_argument("--engine-arg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help=ENGINE_ARG_HELP + "; applies to every rollout engine")
    g.add_argument("--seed", type=int, default=None, help="seed for prompts and sampling")
    g.add_argument("--threads", type=positive_int, default=None, help="torch threads for the trainer")
    g.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    g.set_defaults(run=run_train_grpo)
    _add_train_prm(kinds)


def _add_train_prm(kinds) -> None:
    r = kinds.add_parser("prm", help="train a process (or outcome) reward model on a policy's labelled samples")
    r.add_argument("--policy", default="tiny", help="model whose samples are labelled, without --source (default tiny)")
    r.add_argument("--source", action="append", default=None, metavar="POLICY:TEMPERATURE:SAMPLES",
                   help="sharded data: samples per problem from this policy at this temperature, e.g. tiny:0.8:4 "
                        "(repeatable; exact labels, deduplicated and balanced per problem)")
    r.add_argument("--labels", choices=["exact", "mc", "outcome"], default="exact",
                   help="exact: step checker; mc: Monte Carlo completions; outcome: final answer only (an ORM)")
    r.add_argument("--task", default="arith", help="task family (default arith)")
    r.add_argument("--problems", type=int, default=None, help="training-stream problems to sample (default 1500)")
    r.add_argument("--samples", type=int, default=None, help="policy samples per problem without --source (default 4)")
    r.add_argument("--shard-problems", type=int, default=None, help="problems per data shard (default 1000)")
    r.add_argument("--keep", type=int, default=None, help="right and wrong solutions kept per problem, each (default 4)")
    r.add_argument("--keep-one-sided", type=int, default=None,
                   help="solutions kept from a problem whose samples are all right or all wrong (default 2)")
    r.add_argument("--data-dir", default=None, help="folder of the sharded data, shareable between runs (default OUT/data)")
    r.add_argument("--data-shards", type=int, default=None, help="train on the first K shards only (default all)")
    r.add_argument("--data-only", action="store_true", help="draw (or resume) the sharded data, then stop")
    r.add_argument("--mc-k", type=int, default=None, help="completions per step prefix for --labels mc (default 4)")
    r.add_argument("--mc-policy", default=None, help="model that completes prefixes (default: --policy)")
    r.add_argument("--mc-target", choices=["soft", "hard"], default=None, help="Monte Carlo label (default soft)")
    r.add_argument("--delimiter", default=None, help="step delimiter, e.g. '\\n\\n' (default: the task's)")
    r.add_argument("--init-from", default=None, help="checkpoint to start from (default: the policy)")
    r.add_argument("--steps", type=int, default=None, help="optimizer steps (default 600)")
    r.add_argument("--batch-size", type=int, default=None, help="solutions per step, whole problems (default 32)")
    r.add_argument("--lr", type=float, default=None, help="peak learning rate (default 1e-3)")
    r.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (default 30)")
    r.add_argument("--rank-weight", type=float, default=None,
                   help="weight of the in-problem ranking term, right against wrong solutions (default 0: off)")
    r.add_argument("--dev-samples", type=Path, action="append", default=None,
                   help="dev-split samples (prm_samples.py JSONL) scored every --eval-every steps (repeatable)")
    r.add_argument("--eval-every", type=int, default=None, help="steps between dev evaluations and snapshots (default 500)")
    r.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default 100)")
    r.add_argument("--seed", type=int, default=None, help="seed for problems, sampling and training (default 0)")
    r.add_argument("--threads", type=int, default=None, help="torch threads")
    r.add_argument("--stop-at", type=int, default=None, help="pause after this step; re-run to go on")
    r.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    r.add_argument("--export", type=Path, default=None, help="also copy the final PRM here (bf16, no trainer state)")
    r.set_defaults(run=run_train_prm)


def run_train_prm(args: argparse.Namespace) -> int:
    from reasoner.training.prm.model import export_prm
    from reasoner.training.prm.train import train_prm

    config = _prm_config(args)
    config.step_format()  # an unknown task or empty delimiter fails before any sampling
    if args.data_only:
        return _prm_data_only(config, args.out)
    stats = train_prm(config, args.out, stop_at=args.stop_at)
    print(json.dumps({"out": str(args.out), **stats}))
    if args.export is not None:
        print(f"exported to {export_prm(args.out, args.export)}")
    return 0


def _prm_config(args: argparse.Namespace):
    from pydantic import ValidationError

    from reasoner.errors import ConfigError
    from reasoner.training.prm.data import MCSettings, SampleSettings
    from reasoner.training.prm.pipeline import Source
    from reasoner.training.prm.train import PRMConfig

    seed = args.seed if args.seed is not None else 0
    sources = tuple(Source.parse(text) for text in args.source or ())
    try:
        rollouts = SampleSettings(**_given(policy=args.policy, samples=args.samples, seed=seed))
        mc = MCSettings(**_given(k=args.mc_k, policy=args.mc_policy or args.policy, target=args.mc_target,
                                 seed=seed))
        config = PRMConfig(**_given(
            task=args.task, labels=args.labels, problems=args.problems, rollouts=rollouts, mc=mc,
            sources=sources or None, shard_problems=args.shard_problems, keep=args.keep,
            keep_one_sided=args.keep_one_sided, data_dir=None if args.data_dir is None else str(args.data_dir),
            data_shards=args.data_shards, delimiter=_unescape(args.delimiter), init_from=args.init_from,
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, seed=seed,
            rank_weight=args.rank_weight, threads=args.threads, eval_every=args.eval_every,
            checkpoint_every=args.checkpoint_every,
            dev_samples=None if args.dev_samples is None else tuple(str(p) for p in args.dev_samples)))
        if sources:
            config.data_config  # noqa: B018 - validates shard sizes and sources before any sampling
    except ValidationError as exc:
        raise ConfigError(f"bad training options: {exc}") from exc
    return config


def _prm_data_only(config, out: Path) -> int:
    from reasoner.training.prm.pipeline import build_data, close_engines, shard_summary

    if not config.sources:
        raise OptionError("--data-only draws the sharded data; give --source POLICY:TEMPERATURE:SAMPLES")
    folder = Path(config.data_dir) if config.data_dir else out / "data"
    build_data(config.data_config, folder)
    close_engines()
    print(json.dumps({"data": str(folder), **shard_summary(folder)}))
    return 0


def _given(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def _unescape(delimiter: str | None) -> str | None:
    """A delimiter typed on a command line, with backslash escapes such as \\n decoded."""
    return None if delimiter is None else delimiter.encode().decode("unicode_escape")


def run_train_sft(args: argparse.Namespace) -> int:
    from reasoner.cli_options import build
    from reasoner.training.sft import SIZES, SFTConfig, export_model, train_sft

    if args.size not in SIZES:
        raise OptionError(f"--size: unknown size {args.size!r}; choose one of {', '.join(SIZES)}")
    weights = comma_list(args.weights, float, "--weights", "numbers")
    options = {"tasks": args.task, "task_weights": weights, "size": args.size, "steps": args.steps,
               "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "init_from": args.init_from,
               "grow_from": args.grow_from, "warmup_steps": args.warmup_steps, "threads": args.threads,
               "solution_paths": args.solution_paths, "direct_fraction": args.direct_fraction,
               "direct_from_level": args.direct_from_level}
    config = build(SFTConfig, options, flags={"tasks": "--task", "task_weights": "--weights"})
    _check_tasks(config.tasks)
    stats = train_sft(config, args.out, stop_at=args.stop_at)
    print(json.dumps({"out": str(args.out), **stats}))
    if args.export is not None:
        print(f"exported to {export_model(args.out, args.export)}")
    return 0


def _check_tasks(tasks: list[str]) -> None:
    """An unknown --task is an OptionError here, before a run folder, engine or model exists."""
    from reasoner.errors import ConfigError
    from reasoner.tasks import resolve_family

    for task in tasks:
        try:
            resolve_family(task)
        except ConfigError as exc:
            raise OptionError(f"--task: {exc}") from exc


def run_train_grpo(args: argparse.Namespace) -> int:
    from reasoner.cli_options import build, check_engine_options, engine_options
    from reasoner.training.grpo import GRPOConfig, train_grpo
    from reasoner.training.grpo.rollouts import engine_options as rollout_engine_options

    levels = comma_list(args.levels, int, "--levels", "integers")
    level_weights = comma_list(args.level_weights, float, "--level-weights", "numbers")
    options = {"model": args.model, "tasks": args.task, "levels": levels, "level_weights": level_weights,
               "steps": args.steps,
               "prompts_per_step": args.prompts_per_step, "group_size": args.group_size,
               "max_tokens": args.max_tokens, "lr": args.lr, "beta": args.beta, "epsilon": args.epsilon,
               "epsilon_high": args.epsilon_high, "advantage": args.advantage, "aggregation": args.aggregation,
               "updates_per_step": args.updates_per_step, "workers": args.workers,
               "ray_address": args.ray_address, "seed": args.seed, "threads": args.threads,
               "reward": args.reward, "ttrl_min_votes": args.ttrl_min_votes,
               "engine_options": engine_options(args.engine_arg) or None}
    config = build(lambda **flat: GRPOConfig.from_flat(flat), options,
                   flags={"tasks": "--task", "engine_options": "--engine-arg"})
    _check_tasks(config.data.tasks)
    check_engine_options(config.model, rollout_engine_options(config))
    stats = train_grpo(config, args.out)
    print(json.dumps(stats))
    return 0
