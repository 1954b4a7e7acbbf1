"""Shared measurement loop of Scripts/bench_torch.py and Scripts/bench_ort.py (no framework imports)."""
import json
import resource
import time


def measure(step, batch, warmup, seconds):
    """Runs `step` `warmup` times, then until `seconds` have passed; returns the keys of `adnn bench --json`
    that describe the measurement (images_per_second, iterations, seconds, cpu_seconds, peak_rss_mib,
    iteration_ms_min, iteration_ms_median)."""
    for _ in range(warmup):
        step()
    cpu0 = time.process_time()
    start = time.perf_counter()
    iters, times = 0, []
    while True:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
        iters += 1
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    return {"images_per_second": iters * batch / elapsed, "iterations": iters, "seconds": elapsed,
            "cpu_seconds": time.process_time() - cpu0,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "iteration_ms_min": min(times), "iteration_ms_median": sorted(times)[len(times) // 2]}


def report(res, as_json, detail):
    """Prints `res` as one JSON line, or the human line of `adnn bench` followed by `detail`."""
    if as_json:
        print(json.dumps(res, sort_keys=True))
    else:
        print(f"{res['mode']} batch {res['batch']}: {res['images_per_second']:.2f} images/s "
              f"({res['iterations']} iterations in {res['seconds']:.1f} s), {detail}")
