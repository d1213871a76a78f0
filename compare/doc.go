// Package compare summarises equal-time comparisons of models, the work of
// bfc compare: each model trained on the same corpus, held-out split, time
// budget and threads for several seeds. It reads the runs' training logs,
// folds the seeds into one row per model (held-out bits per byte as mean
// and spread), and writes the table as markdown and JSON and the curves
// as PNGs.
package compare
