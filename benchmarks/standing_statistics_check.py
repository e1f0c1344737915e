"""Standing vs copied batch-norm statistics of the averaged G (dcgan+ema), paired, on the data
ganlib's lessons 02 and 03 use: the procedural sprites (16x16, lesson 03's setting) and the 100
grey LFW faces (32x32). Same weights, two ways of sampling them; seeds 0-2."""
import json, os, sys
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1"); os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
import numpy as np
from ganlib import data, metrics, recipes

def sample(gan, n, seed):
    z = np.random.default_rng(seed).standard_normal((n, gan.latent_dim)).astype(np.float32)
    return np.concatenate([np.asarray(gan.sampling_generator(z[i:i + 256], training=False)) for i in range(0, n, 256)])

def run(name, train, held, budget, width, batch, seeds):
    n = len(held)
    floor = metrics.image_metrics(held, train[np.random.default_rng(0).permutation(len(train))[:n]], seed=0)
    print(f"{name}: {len(train)} training, {n} held out; floor C2ST {floor['c2st_accuracy']:.3f} "
          f"P {floor['precision']:.2f} R {floor['recall']:.2f}", flush=True)
    for seed in seeds:
        def evaluate(gan):
            gan.standing_statistics = False
            copied = metrics.image_metrics(held, sample(gan, n, seed + 1), seed=seed)
            gan.standing_statistics = True
            standing = metrics.image_metrics(held, sample(gan, n, seed + 1), seed=seed)
            return {"copied": copied, "standing": standing}
        result = recipes.train_for_cpu_seconds("dcgan+ema", train, budget, batch_size=batch, width=width,
                                               seed=seed, evaluate=evaluate)
        e = result["evaluations"][-1]
        print(json.dumps({"data": name, "seed": seed, "steps": e["steps"], "cpu": round(e["cpu_seconds"]),
                          **{k: {m: round(e[k][m], 3) for m in ("c2st_accuracy", "precision", "recall", "swd")}
                             for k in ("copied", "standing")}}), flush=True)

sprites = data.load_sprites(image_size=16, source="procedural", count=4000, seed=0, verbose=False)
a, b = sprites.split(held_out=0.25, seed=0)
run("sprites 16x16", a.numpy(), b.numpy()[:800], float(sys.argv[1]), 32, 64, (0, 1, 2))
faces = data.load_faces(32, channels=1, source="lfw", verbose=False)
a, b = faces.split(held_out=0.25, seed=0)
run("LFW faces 32x32 grey", a.numpy(), b.numpy(), float(sys.argv[2]), 32, 16, (0, 1, 2))
