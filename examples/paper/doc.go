// Package paper holds the equal-time study of bfc against the Brainformer
// paper's claims: the suite of models in this folder (README.md), matched
// in activated parameters per token, trained by bfc compare. Its test
// checks that the suite stays matched and formatted.
package paper
