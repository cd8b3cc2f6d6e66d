#!/usr/bin/env bash
# Sextant's benchmarks (`make bench`; never part of `make test`). Builds nothing:
# runs the binaries of a build configured with -DSEXTANT_BUILD_BENCHMARKS=ON,
# then bench/compare.py, which runs python3-faiss, scikit-learn and hnswlib on
# the same arrays in the same run and prints the table (ratios, recall@10,
# drifted-flag agreement, peak memory, the OpenBLAS kernel, the machine's load).
#
#   bench/run.sh [--quick] [BUILD_DIR]        (default BUILD_DIR: build-bench)
#
# Data: clustered synthetic embeddings at d = 768 (bench/gen_data.py, fixed
# seeds), generated once into $SEXTANT_BENCH_DATA (default /tmp/sextant-bench,
# never the repository) and reused; exact answers that depend only on the data
# are cached there too. When the build has the demo, its real embeddings are
# benchmarked as well. --quick uses small sizes (a smoke test of about two
# minutes); the full run takes about half an hour on two cores (the first one
# longer: data and exact answers are computed once).
#
# The environment's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are kept; the anchors
# (the Faiss flat searches) are also measured with both unset, in those
# commands only.
set -euo pipefail

quick=0
build=build-bench
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) build="$arg" ;;
  esac
done
here="$(cd "$(dirname "$0")" && pwd)"
bin="$build/bench"
for b in drift_bench similarity_bench finish_bench; do
  if [[ ! -x "$bin/$b" ]]; then
    echo "bench/run.sh: $bin/$b not found: configure with -DSEXTANT_BUILD_BENCHMARKS=ON and build" \
         "first (make bench does both)" >&2
    exit 2
  fi
done
py=/usr/bin/python3
threads=$(nproc)
data="${SEXTANT_BENCH_DATA:-${TMPDIR:-/tmp}/sextant-bench}"
stamp=$(date +%Y%m%d-%H%M%S)
results="$data/results-$stamp$([[ $quick == 1 ]] && echo -quick || true)"
mkdir -p "$results"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
unset_blas=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)

if [[ $quick == 1 ]]; then
  n=50000; q=20000; nq_exact=1000; sk_exact=500; ref_rows=5000; gt_nq=2000; faiss_nq=2000
  sk_nq=500; hnsw_nq=2000; big=100000; big_q=10000; big_gt=500; big_ref=1000
  sim_train=50000; sim_count=200; fin_rows=5000
  specs=(train_q:$n:train:11 production_q:$q:production:12 train_big_q:$big:train:13)
  train=train_q; prod=production_q; train_big=train_big_q
else
  n=100000; q=100000; nq_exact=10000; sk_exact=2000; ref_rows=0; gt_nq=10000; faiss_nq=10000
  sk_nq=1000; hnsw_nq=10000; big=1000000; big_q=100000; big_gt=2000; big_ref=4000
  sim_train=900000; sim_count=1000; fin_rows=100000
  specs=(train_100k:100000:train:1 production_100k:100000:production:2 train_1m:1000000:train:3)
  train=train_100k; prod=production_100k; train_big=train_1m
fi

uptime_before="$(uptime)"
log "load: $uptime_before"
log "data: $data"
$py "$here/gen_data.py" "$data" "${specs[@]}"

# The anchors run right next to what they anchor, twice, alternating (the best of each is
# kept): on a shared machine the load changes from minute to minute.
py_faiss() {  # py_faiss OUT NQ [env prefix...]
  local out=$1 nq=$2
  shift 2
  "$@" $py "$here/compare.py" worker faiss --train "$data/$train.npy" --queries "$data/$prod.npy" \
    --nq $nq --threads $threads > "$out"
}
log "A: exact drift scoring vs the raw Faiss flat search (OPENBLAS_* as set, then unset)"
for rep in 1 2; do
  "$bin/drift_bench" exact --train "$data/$train.npy" --queries "$data/$prod.npy" --nq $nq_exact \
    --threads $threads > "$results/exact_asset_$rep.json"
  py_faiss "$results/exact_py_asset_$rep.json" $nq_exact
  "${unset_blas[@]}" "$bin/drift_bench" exact --train "$data/$train.npy" --queries "$data/$prod.npy" \
    --nq $nq_exact --threads $threads > "$results/exact_unset_$rep.json"
  py_faiss "$results/exact_py_unset_$rep.json" $nq_exact "${unset_blas[@]}"
done

log "B: the default path, Q=$q against N=$n"
ref_arg=()
if [[ $ref_rows -gt 0 ]]; then ref_arg=(--reference-rows $ref_rows); fi
"$bin/drift_bench" drift --train "$data/$train.npy" --queries "$data/$prod.npy" --method auto \
  "${ref_arg[@]}" --threads $threads --out "$results/drift_default" --labels-for $gt_nq \
  > "$results/drift_default.json"
py_faiss "$results/default_py_asset.json" $faiss_nq
py_faiss "$results/default_py_unset.json" $faiss_nq "${unset_blas[@]}"

log "C: the default path, Q=$big_q against N=$big"
"$bin/drift_bench" drift --train "$data/$train_big.npy" --queries "$data/$prod.npy" --nq $big_q \
  --method auto --threads $threads --out "$results/drift_large" --labels-for $big_gt \
  > "$results/drift_large.json"

log "D: similarity service, $sim_train training + production samples"
"$bin/similarity_bench" --train "$data/$train_big.npy" --train-rows $sim_train \
  --production "$data/$prod.npy" --queries "$data/$train.npy" --count $sim_count \
  --root "$data/similarity-root" > "$results/similarity.json"

log "E: finish end to end, $fin_rows training + $fin_rows production samples"
# The commit's fsyncs wait for whatever earlier sections left to write back:
# flush it first, or they are timed too.
sync
"$bin/finish_bench" --train "$data/$train.npy" --production "$data/$prod.npy" --rows $fin_rows \
  --root "$data/finish-root" > "$results/finish.json"
if [[ -x "$bin/map_bench" ]]; then
  log "M: the 2-D map alone, on E's rows: its stages and trustworthiness at k = 10"
  "$bin/map_bench" --train "$data/$train.npy" --production "$data/$prod.npy" > "$results/map.json" \
    && $py -c 'import json, sys; j = json.load(open(sys.argv[1])); print("map:", round(j["seconds"], 2), "s,",
        {k: round(v, 2) for k, v in j["stage_seconds"].items()}, "trustworthiness",
        round(j["trustworthiness"]["value"], 4))' "$results/map.json" \
    || log "map_bench failed (see $results/map.json)"
fi

# Real embeddings of the demo model, when the build has it.
demo_train=""; demo_prod=""
if [[ -x "$build/examples/demo/sextant_demo" ]]; then
  log "R: the demo model's real embeddings"
  demo_root="$data/demo-root"
  rm -rf "$demo_root"
  demo_args=(--root "$demo_root" --project bench --run demo)
  if [[ $quick == 1 ]]; then demo_args+=(--max-train 5000 --epochs 1); fi
  if "$build/examples/demo/sextant_demo" "${demo_args[@]}" > "$results/demo.log" 2>&1; then
    gen=$(ls -d "$demo_root"/bench/demo/results/gen-* | tail -1)
    demo_train="$gen/training/embeddings.npy"
    demo_prod=$(ls "$gen"/inference-*/embeddings.npy | head -1)
    for method in exact approximate; do
      "$bin/drift_bench" drift --train "$demo_train" --queries "$demo_prod" --method $method \
        --threads $threads --out "$results/demo_$method" --labels-for 100000 \
        > "$results/demo_$method.json"
    done
  else
    log "the demo failed (see $results/demo.log); skipping real embeddings"
  fi
fi

# One labeling round simulated on real data (bench/label_study.py, docs/labeling.md): needs
# the shared data's SST-2 and Amazon reviews and the build's Python package; about 45 minutes
# on two cores (--quick: one seed, one budget, two strategies, a small training set).
study_data="${SEXTANT_DATA:-$here/../../shared/data}"
if [[ -f "$study_data/sst2/train.csv" && -d "$build/python/sextant" ]]; then
  log "L: labeling simulation (strategies' accuracy gains on Amazon and Yelp)"
  study_args=(--root "$data/label-study-$stamp" --results-json "$results/label_study.json"
              --markdown "$results/label_study.md")
  if [[ $quick == 1 ]]; then
    study_args+=(--pools amazon --seeds 0 --budgets 100 --strategies random,default --max-train 5000 --epochs 1)
  fi
  SEXTANT_DATA="$study_data" PYTHONPATH="$build/python" $py "$here/label_study.py" "${study_args[@]}" \
    > "$results/label_study.log" 2>&1 || log "the labeling simulation failed (see $results/label_study.log)"
else
  log "L: skipped (no SST-2 under $study_data, or no Python package in $build)"
fi

cat > "$results/plan.json" <<EOF
{"data": "$data", "results": "$results", "threads": $threads, "quick": $quick, "percentile": 0.95,
 "uptime_before": "$uptime_before",
 "exact": {"train": "$train.npy", "queries": "$prod.npy", "n": $n, "nq": $nq_exact, "sklearn_nq": $sk_exact},
 "default": {"train": "$train.npy", "queries": "$prod.npy", "n": $n, "nq": $q, "gt_nq": $gt_nq,
             "gt_ref_rows": $([[ $ref_rows -gt 0 ]] && echo $ref_rows || echo $n),
             "faiss_nq": $faiss_nq, "sklearn_nq": $sk_nq, "hnsw_nq": $hnsw_nq},
 "large": {"train": "$train_big.npy", "queries": "$prod.npy", "n": $big, "nq": $big_q, "gt_nq": $big_gt,
           "gt_ref_rows": $big_ref},
 "demo": {"train": "$demo_train", "queries": "$demo_prod"}}
EOF
log "the reference libraries and the table"
$py "$here/compare.py" report --plan "$results/plan.json"

# Live ingest (docs/benchmarks.md, "Live ingest"): the real server over loopback, exact and
# approximate live scoring; needs the CLI and the Python package of the same build.
if [[ -x "$build/src/cli/sextant" && -d "$build/python/sextant" ]]; then
  live_args=(--bin "$build/src/cli/sextant" --data "$data/live")
  if [[ $quick == 1 ]]; then live_args+=(--train 5000 --seconds 15); fi
  for mode in exact approximate; do
    extra=()
    [[ $mode == approximate ]] && extra=(--serve-arg=--live-approximate)
    log "live ingest ($mode scoring)"
    PYTHONPATH="$build/python" $py "$here/live_bench.py" "${live_args[@]}" "${extra[@]}" \
      > "$results/live_$mode.json" && cat "$results/live_$mode.json"
  done
else
  log "live ingest skipped: $build has no sextant CLI or Python package"
fi
# Distributed finish (docs/benchmarks.md, "Distributed finish"; docs/scaling.md): the same
# run finished on one machine and on Dask LocalClusters of 1 worker x 2 threads and 2 workers
# x 1 thread; needs python3-distributed and the build's Python package. The full size of
# docs/benchmarks.md (N = 1,000,000, Q = 100,000) is `bench/dask_bench.py` with its defaults.
if [[ -d "$build/python/sextant" ]] && $py -c "import distributed" 2>/dev/null; then
  dask_args=(--data "$data/dask" --out "$results/dask")
  if [[ $quick == 1 ]]; then
    dask_args+=(--n 20000 --validation 2000 --q 5000)
  else
    dask_args+=(--n 200000 --validation 10000 --q 50000)
  fi
  log "distributed finish (local, dask 1x2, dask 2x1)"
  PYTHONPATH="$build/python" $py "$here/dask_bench.py" "${dask_args[@]}" \
    > "$results/dask_bench.log" 2>&1 && cat "$results/dask/dask_bench.md" \
    || log "the distributed finish benchmark failed (see $results/dask_bench.log)"
else
  log "distributed finish skipped: no Python package in $build, or no python3-distributed"
fi
# The search choice (docs/benchmarks.md, "Search choice (issue 18)"): forced exact, forced
# approximate and auto over N x d x Q with the cost model's predictions; data generated in
# memory. The full grid (up to 1,000,000 x 768) takes about half an hour on two cores;
# exact scoring over --max-exact-s is extrapolated from the first 1,000 queries.
if [[ -x "$bin/search_grid" ]]; then
  log "S: search choice grid"
  if [[ $quick == 1 ]]; then
    grid_args=(--rows 10000,50000 --dims 32,768 --queries 1000,20000 --max-exact-s 20)
  else
    grid_args=(--rows 10000,100000,1000000 --dims 32,128,768 --queries 1000,100000
               --max-exact-s 60 --reference 1000)
  fi
  "$bin/search_grid" "${grid_args[@]}" --threads $threads > "$results/search_grid.txt" \
    && sed -n '/^| N /,$p' "$results/search_grid.txt" \
    || log "the search grid failed (see $results/search_grid.txt)"
fi
log "load after: $(uptime)"
