// Compatibility shim for TorchSharp 0.107's libLibTorchSharp.so on libstdc++ older than GCC 13.
// GCC 13 headers make every translation unit that includes <iostream> call
// std::ios_base_library_init() (GLIBCXX_3.4.32) to guarantee the standard streams are constructed.
// Older libstdc++ constructs them through std::ios_base::Init; this definition does exactly that.
#include <ios>

extern "C" void _ZSt21ios_base_library_initv()
{
    static std::ios_base::Init init;
}
