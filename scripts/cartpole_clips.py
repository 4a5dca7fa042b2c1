"""Real footage for docs/own-video.md: Gymnasium's CartPole rendered to mp4 with PyAV, with its input log.

A noisy balancing controller plays each episode (it pushes toward the pole's fall, and picks at
random one frame in four), so clips last long and show both actions. Each clip is CLIP.mp4 (30
frames/s, the environment's 600x400 render) beside CLIP.csv, the per-frame log in the format
`vidgen ingest --actions` reads (docs/own-video.md): `frame,action` rows, actions `left`/`right`.

    python scripts/cartpole_clips.py footage --clips 6 --frames 400
"""

import argparse
from pathlib import Path

import av
import gymnasium as gym
import numpy as np

ACTIONS = ("left", "right")


def write_clip(path: Path, seed: int, frames: int) -> int:
    env = gym.make("CartPole-v1", render_mode="rgb_array", max_episode_steps=frames)
    rng = np.random.default_rng(seed)
    observation, _ = env.reset(seed=seed)
    rows = []
    with av.open(str(path.with_suffix(".mp4")), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 600, 400, "yuv420p"
        for t in range(frames):
            image = env.render()
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            angle, spin = observation[2], observation[3]
            action = int(rng.integers(2)) if rng.random() < 0.25 else int(angle + 0.5 * spin > 0)
            rows.append(f"{t},{ACTIONS[action]}")
            observation, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
        container.mux(stream.encode())
    env.close()
    path.with_suffix(".csv").write_text("frame,action\n" + "\n".join(rows) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--frames", type=int, default=400)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for k in range(args.clips):
        count = write_clip(args.out / f"cartpole{k}", seed=k, frames=args.frames)
        print(f"{args.out / f'cartpole{k}.mp4'}: {count} frames")


if __name__ == "__main__":
    main()
