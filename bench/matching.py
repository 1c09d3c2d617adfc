"""Matching benchmark: 10,000 subscriptions against 1,000 realistic papers.

Generates (seeded) papers whose topics follow a long-tailed distribution, with
the spelling variety of real abstracts (hyphens or not, plurals, acronyms,
British spellings), and subscriptions of 1 to 5 keywords as users type them
(phrases, typos, hyphen/space swaps, acronyms, quotes, exclusions). Prints:
index build and match time for all rules, the exhaustive matcher's time on a
sample extrapolated to all rules, the speed ratio, whether both agree on the
sample, and peak RSS (VmHWM).

    python bench/matching.py [--papers N] [--rules N] [--sample N] [--seed N]
"""

import argparse
import multiprocessing
import random
import resource
import time
from pathlib import Path

from bot.matching.engine import Matcher, PaperText, Rule, match_exhaustive

# Each topic: phrases as papers write them; the first few are the common ones.
_TOPICS = {
    "diffusion": "diffusion models|diffusion model|denoising diffusion|score-based generative models|classifier-free guidance|latent diffusion|text-to-image generation|noise schedule|DDPM|sampling steps",
    "llm": "large language models|LLMs|language model|instruction tuning|in-context learning|chain-of-thought|prompt engineering|GPT-4|hallucination|tokenizer",
    "rl": "reinforcement learning|policy optimization|reward model|offline RL|Q-learning|exploration-exploitation trade-off|policy gradient|actor-critic|Markov decision process|RL agents",
    "rlhf": "RLHF|preference optimization|human feedback|direct preference optimization|DPO|reward hacking|alignment|preference data",
    "graph": "graph neural networks|GNNs|message passing|node classification|link prediction|graph transformer|graph representation learning|over-smoothing|heterogeneous graphs",
    "vision": "vision transformer|ViT|image classification|object detection|semantic segmentation|bounding boxes|convolutional neural networks|CNNs|ImageNet|feature maps",
    "ssl": "self-supervised learning|contrastive learning|masked autoencoders|representation learning|pretext tasks|SimCLR|linear probing|data augmentation",
    "peft": "parameter-efficient fine-tuning|LoRA|low-rank adaptation|adapters|fine-tuning|prefix tuning|QLoRA|rank decomposition",
    "moe": "mixture of experts|MoE|sparse experts|expert routing|load balancing|gating network|top-k routing",
    "3d": "neural radiance fields|NeRF|3D Gaussian splatting|novel view synthesis|point clouds|3D reconstruction|multi-view stereo|mesh generation|depth estimation",
    "robot": "robot manipulation|imitation learning|sim-to-real transfer|motion planning|embodied agents|grasping|visuomotor policies|humanoid robots",
    "speech": "speech recognition|text-to-speech|ASR|speaker verification|audio generation|spoken language understanding|voice conversion",
    "gp": "Gaussian processes|Gaussian process regression|Bayesian optimization|kernel methods|uncertainty quantification|variational inference|posterior sampling",
    "optim": "stochastic gradient descent|convex optimization|convergence rate|Adam optimizer|learning rate schedules|non-convex optimization|second-order methods|zeroth-order optimisation",
    "fed": "federated learning|differential privacy|client drift|secure aggregation|privacy-preserving machine learning|non-IID data",
    "robust": "adversarial robustness|adversarial examples|certified robustness|adversarial training|backdoor attacks|jailbreak attacks|red teaming",
    "causal": "causal inference|causal discovery|structural causal models|counterfactual reasoning|treatment effects|instrumental variables",
    "pde": "physics-informed neural networks|PINNs|neural operators|partial differential equations|PDE solvers|Fourier neural operator|fluid dynamics",
    "bio": "protein structure prediction|drug discovery|molecular generation|single-cell RNA sequencing|protein language models|molecular dynamics",
    "medical": "medical image segmentation|clinical notes|electronic health records|radiology reports|histopathology images|organ segmentation",
    "retrieval": "retrieval-augmented generation|RAG|dense retrieval|question answering|knowledge graphs|re-ranking|vector databases",
    "code": "code generation|program synthesis|code LLMs|software engineering agents|unit tests|automated program repair",
    "multimodal": "vision-language models|VLMs|multimodal large language models|visual question answering|image captioning|CLIP|video understanding",
    "timeseries": "time series forecasting|anomaly detection|long-term forecasting|temporal convolutional networks|state space models|Mamba",
    "efficiency": "model compression|knowledge distillation|quantization|pruning|post-training quantization|inference efficiency|KV cache|speculative decoding",
    "theory": "generalization bounds|sample complexity|neural tangent kernel|PAC-Bayes|double descent|overparameterized networks|implicit regularization",
    "fairness": "algorithmic fairness|bias mitigation|demographic parity|fairness constraints|explainability|interpretability|feature attribution",
    "gan": "generative adversarial networks|GANs|GAN|mode collapse|image synthesis|style transfer|StyleGAN",
    "continual": "continual learning|catastrophic forgetting|lifelong learning|replay buffer|class-incremental learning|meta-learning|few-shot learning",
    "agents": "LLM agents|multi-agent systems|tool use|planning|web agents|agentic workflows|self-reflection",
}
_TOPIC_PHRASES = {name: phrases.split("|") for name, phrases in _TOPICS.items()}
_TOPIC_NAMES = list(_TOPICS)
_TOPIC_WEIGHTS = [1 / (rank + 1) ** 0.5 for rank in range(len(_TOPIC_NAMES))]

_FUNCTION_WORDS = """
the of and to a in we is that for on with as by this are our from an be which can it these
at or both such while than more into across between without each its their two new
"""
# Common words of abstracts, with the British spellings and near-misses
# ("organ", "exploration", "Moebius") that keywords must not confuse.
_ACADEMIC_WORDS = """
propose method approach results show demonstrate performance experiments framework novel
existing improve task tasks state-of-the-art outperforms significantly achieves data training
evaluation benchmarks baseline efficient robust accuracy problem analysis theoretical empirical
study paper work address challenge challenges key effective large-scale code available models
learning scalable generalization introduce leverage extensive settings datasets architecture
modeling modelling behaviour behavior neighbours neighbors optimization optimisation organic
organ exploration Moebius models' trade-off real-world end-to-end zero-shot simple
limitations capabilities signals quality computational cost complex diverse domains
"""
_FUNCTION = tuple(_FUNCTION_WORDS.split())
_ACADEMIC = tuple(_ACADEMIC_WORDS.split())
# Parts of invented method names ("FlexGAN", "OmniMoE").
_NAME_PARTS = "Flex Meta Hyper Omni Uni Auto Deep Fast Tiny Open Sparse Graph Vision Diff Mamba Lo"
_NAME_ENDS = "Former GAN Net Diff MoE Bench Agent Gen RL LM Seg Fusion"
_NAMES = tuple(_NAME_PARTS.split())
_SUFFIXES = tuple(_NAME_ENDS.split())


def _variant(rng: random.Random, phrase: str) -> str:
    """A phrase as one paper among many might write it."""
    roll = rng.random()
    if roll < 0.15 and "-" in phrase:
        return phrase.replace("-", " " if rng.random() < 0.5 else "")
    if roll < 0.3 and phrase.endswith("s") and not phrase.isupper():
        return phrase[:-1]
    if roll < 0.4 and phrase[-1].isalpha() and phrase.islower():
        return phrase + "s"
    if roll < 0.45:
        return phrase.title()
    return phrase


def _sentence(rng: random.Random, topics: list[str]) -> str:
    words: list[str] = []
    for _ in range(rng.randint(14, 30)):
        roll = rng.random()
        if roll < 0.45:
            words.append(rng.choice(_FUNCTION))
        elif roll < 0.85:
            words.append(rng.choice(_ACADEMIC))
        else:
            phrase = _variant(rng, rng.choice(_TOPIC_PHRASES[rng.choice(topics)]))
            if rng.random() < 0.1:
                phrase += f" ({rng.choice(_NAMES)}{rng.choice(_SUFFIXES)})"
            words.append(phrase)
    if rng.random() < 0.3:
        words.append(f"by {rng.randint(1, 40)}.{rng.randint(0, 9)}%")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", ";", ":"))


def _paper(rng: random.Random, number: int) -> PaperText:
    count = rng.choice((1, 1, 1, 2, 2, 3))
    topics = rng.choices(_TOPIC_NAMES, weights=_TOPIC_WEIGHTS, k=count)
    main = _TOPIC_PHRASES[topics[0]]
    parts = [_variant(rng, rng.choice(main)), rng.choice(("for", "with", "via", "in")),
             _variant(rng, rng.choice(_TOPIC_PHRASES[rng.choice(topics)]))]  # fmt: skip
    title = " ".join(parts)
    if rng.random() < 0.4:
        title = f"{rng.choice(_NAMES)}{rng.choice(_SUFFIXES)}: {title[0].upper()}{title[1:]}"
    sentences = [_sentence(rng, topics) for _ in range(rng.randint(6, 10))]
    if rng.random() < 0.2:
        sentences.append(f"Code is available at https://github.com/lab{rng.randint(1, 999)}/repo.")
    return PaperText(number, title, " ".join(sentences))


def papers(count: int, *, seed: int = 7) -> list[PaperText]:
    """`count` generated papers."""
    rng = random.Random(seed)
    return [_paper(rng, number + 1) for number in range(count)]


def _typo(rng: random.Random, keyword: str) -> str:
    words = keyword.split(" ")
    long = [n for n, word in enumerate(words) if len(word) >= 7 and word.islower()]
    if not long:
        return keyword
    n = rng.choice(long)
    word = words[n]
    at = rng.randint(1, len(word) - 2)
    edit = rng.choice(("delete", "insert", "swap", "replace"))
    if edit == "delete":
        word = word[:at] + word[at + 1 :]
    elif edit == "insert":
        word = word[:at] + rng.choice("aeiourst") + word[at:]
    elif edit == "swap":
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    else:
        word = word[:at] + rng.choice("aeiou") + word[at + 1 :]
    words[n] = word
    return " ".join(words)


def _keyword(rng: random.Random, topic: str) -> str:
    keyword = rng.choice(_TOPIC_PHRASES[topic])
    roll = rng.random()
    if roll < 0.12:
        keyword = _typo(rng, keyword)
    elif roll < 0.22 and "-" in keyword:
        keyword = keyword.replace("-", " ")
    elif roll < 0.3:
        keyword = keyword[:-1] if keyword.endswith("s") else keyword + "s"
    elif roll < 0.35:
        keyword = f'"{keyword}"'
    elif roll < 0.4:
        keyword = keyword.title()
    return keyword


def rules(count: int, *, seed: int = 11) -> list[Rule]:
    """`count` generated subscriptions of 1 to 5 keywords, a fifth with exclusions."""
    rng = random.Random(seed)
    made = []
    for number in range(count):
        topic = rng.choices(_TOPIC_NAMES, weights=_TOPIC_WEIGHTS)[0]
        keywords = tuple(dict.fromkeys(_keyword(rng, topic) for _ in range(rng.randint(1, 5))))
        exclusions: tuple[str, ...] = ()
        if rng.random() < 0.2:
            other = rng.choice(_TOPIC_NAMES)
            exclusions = tuple(_keyword(rng, other) for _ in range(rng.randint(1, 2)))
        made.append(Rule(number + 1, keywords, exclusions))
    return made


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_batches(papers_count: int, rules_count: int, seed: int) -> tuple[float, int, float]:
    """Match as a delivery run does, 25 subscribers at a time: (seconds, matches, peak RSS MB).

    In a process of its own (a fresh peak RSS): only a batch's matches are held at
    once, so memory is the index, the keyword hits it keeps, and one batch.
    """
    corpus = papers(papers_count, seed=seed)
    subscriptions = rules(rules_count, seed=seed + 4)
    started = time.perf_counter()
    matcher = Matcher(corpus)
    count = 0
    for start in range(0, len(subscriptions), 25):
        count += len(matcher.match(subscriptions[start : start + 25]))
    return time.perf_counter() - started, count, _peak_rss_mb()


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=100, help="rules run exhaustively")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    corpus = papers(args.papers, seed=args.seed)
    subscriptions = rules(args.rules, seed=args.seed + 4)
    words = sum(len(p.title.split()) + len(p.abstract.split()) for p in corpus)
    keywords = {k for rule in subscriptions for k in rule.keywords + rule.exclusions}
    print(f"corpus: {len(corpus)} papers, {words} words; {len(subscriptions)} rules, "
          f"{len(keywords)} distinct keywords")  # fmt: skip

    started = time.perf_counter()
    matcher = Matcher(corpus)
    built = time.perf_counter()
    matches = matcher.match(subscriptions)
    done = time.perf_counter()
    index_s, match_s = built - started, done - built
    print(f"indexed: build {index_s:.3f} s + match {match_s:.3f} s = {index_s + match_s:.3f} s "
          f"(target < 2 s); {len(matches)} matches, "
          f"{len(matches) / len(subscriptions):.1f} papers per rule")  # fmt: skip

    sample = random.Random(args.seed).sample(subscriptions, min(args.sample, len(subscriptions)))
    started = time.perf_counter()
    reference = match_exhaustive(corpus, sample)
    exhaustive_s = time.perf_counter() - started
    projected = exhaustive_s / len(sample) * len(subscriptions)
    print(f"exhaustive: {exhaustive_s:.2f} s for {len(sample)} rules, "
          f"{projected:.0f} s projected for {len(subscriptions)}")  # fmt: skip
    print(f"speed ratio: {projected / (index_s + match_s):.0f}x (target >= 50x)")

    sampled = {rule.id for rule in sample}
    ours = [m for m in matches if m.rule_id in sampled]
    same = ours == reference
    print(f"identical on the sample: {same} ({len(reference)} matches)")
    print(f"peak RSS: {_peak_rss_mb():.0f} MB (every match of every rule held at once)")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seconds, count, peak = pool.apply(_in_batches, (args.papers, args.rules, args.seed))
    print(f"in batches of 25 rules, as a delivery run matches: {seconds:.2f} s, {count} matches,"
          f" peak RSS {peak:.0f} MB (target < 300 MB at 10,000 rules x 5,000 papers)")  # fmt: skip
    if not same:
        raise SystemExit("the indexed and exhaustive matchers disagree")


if __name__ == "__main__":
    main()
