/* MKL's kernel branch chosen by what the CPU can do, not by who made it (common/mkl.py).
 *
 * The oneMKL linked into torch's CPU wheel asks these two functions whether the CPU is an
 * Intel one; on any other (AMD, Hygon, ...) it ignores MKL_CBWR=AVX2,STRICT and runs its AUTO
 * branch, whose bits differ. Loaded before torch with RTLD_GLOBAL, this library answers "yes",
 * so MKL honours the pinned AVX2 branch on every x86-64 CPU that has AVX2. MKL still checks
 * the instruction set itself: a CPU without AVX2 gets no AVX2 kernels.
 *
 * It also reads the CPU's own identity (CPUID), which an emulator changes and /proc/cpuinfo
 * does not, for the one-line report of the CPU in common/cpu.py.
 */
#include <cpuid.h>
#include <string.h>

int mkl_serv_intel_cpu_true(void) { return 1; }
int mkl_serv_intel_cpu(void) { return 1; }

/* The vendor string ("GenuineIntel", "AuthenticAMD") into out[13]. */
void action_rnn_cpu_vendor(char *out)
{
    unsigned int eax, ebx, ecx, edx;
    __get_cpuid(0, &eax, &ebx, &ecx, &edx);
    memcpy(out, &ebx, 4);
    memcpy(out + 4, &edx, 4);
    memcpy(out + 8, &ecx, 4);
    out[12] = '\0';
}

/* The brand string ("AMD EPYC-Milan Processor") into out[49]; empty where the CPU has none. */
void action_rnn_cpu_brand(char *out)
{
    unsigned int regs[12] = {0};
    out[0] = '\0';
    if (__get_cpuid_max(0x80000000, 0) < 0x80000004)
        return;
    for (unsigned int i = 0; i < 3; i++)
        __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                    &regs[4 * i + 3]);
    memcpy(out, regs, 48);
    out[48] = '\0';
}
