// Lets the Intel MKL inside libtorch_cpu.so pick its optimised code paths on non-Intel x86-64 CPUs.
// MKL asks mkl_serv_intel_cpu_true() whether the processor is an Intel one before dispatching on the
// CPU's instruction sets, and takes generic, slower kernels when it is not (on this project's AMD EPYC
// reference machine: fp32 GEMM 200 → 227 GFLOP/s, batch-1 decoding's matrix-vector products ~2× faster).
// The kernels it then chooses still follow the CPUID feature checks, so no instruction the CPU lacks is
// used. Loaded with RTLD_GLOBAL before libtorch (src/Microsoft.ML.Lora/Runtime/MklCpuDispatch.cs), these
// definitions take precedence over MKL's own; LORA_MKL_CPU_DISPATCH=0 turns that off.
extern "C" int mkl_serv_intel_cpu_true() { return 1; }
extern "C" int mkl_serv_intel_cpu() { return 1; }
