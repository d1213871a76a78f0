// Package safetensors reads and writes the safetensors checkpoint format: a
// little-endian u64 header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian tensor data.
//
// Writing is deterministic (tensors sorted by name) and Save is atomic.
// Reading validates the whole header before trusting any of it.
package safetensors
