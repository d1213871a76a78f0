package codegen

// Import paths of the runtime packages generated code calls. They appear
// nowhere else in codegen.
const (
	kernelsPath     = "github.com/bfcdev/bfc/runtime/kernels"
	tensorPath      = "github.com/bfcdev/bfc/runtime/tensor"
	safetensorsPath = "github.com/bfcdev/bfc/runtime/safetensors"
)

// actNames maps IR activation names to runtime/kernels Act constants.
var actNames = map[string]string{
	"relu":      "ActReLU",
	"gelu":      "ActGELU",
	"gelu_tanh": "ActGELUTanh",
	"sqrelu":    "ActSqReLU",
	"silu":      "ActSiLU",
}
