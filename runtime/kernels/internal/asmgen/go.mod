module github.com/bfcdev/bfc/runtime/kernels/internal/asmgen

go 1.26.0
