// Package plot draws training curves from the JSON-lines log that
// runtime/train writes (Config.Log): training and held-out loss, in bits
// per byte, against the optimizer step, as a PNG.
//
//	if err := plot.LossPNG("train.jsonl", "loss.png"); err != nil { ... }
//
// ReadLog and WritePNG split the same work for callers that hold the log
// or the image in memory. ParetoPNG and ParetoFile draw a block search's
// trials, held-out bits per byte against step time, with their Pareto front
// (ParetoFront), the baseline and the step-time limit marked.
package plot
