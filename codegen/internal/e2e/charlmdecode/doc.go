// Package charlmdecode checks the key/value-cache Decoder of the example
// model examples/charlm (the searched blocks: top-2 over group position,
// squared-ReLU experts, a tied head) against its Infer, at full size.
package charlmdecode
