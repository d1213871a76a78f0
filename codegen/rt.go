package codegen

// Import paths of the runtime packages generated code calls. They appear
// nowhere else in codegen.
const (
	kernelsPath     = "github.com/bfcdev/bfc/runtime/kernels"
	tensorPath      = "github.com/bfcdev/bfc/runtime/tensor"
	safetensorsPath = "github.com/bfcdev/bfc/runtime/safetensors"
	moePath         = "github.com/bfcdev/bfc/runtime/moe"
)

// moeRules and moeGroups map IR routing rules and groups to runtime/moe
// constants.
var (
	moeRules  = map[string]string{"expert_choice": "ExpertChoice", "top_k": "TopK"}
	moeGroups = map[string]string{"batch": "GroupBatch", "sequence": "GroupSequence", "position": "GroupPosition"}
)

// actNames maps IR activation names to runtime/kernels Act constants.
var actNames = map[string]string{
	"relu":      "ActReLU",
	"gelu":      "ActGELU",
	"gelu_tanh": "ActGELUTanh",
	"sqrelu":    "ActSqReLU",
	"silu":      "ActSiLU",
}
