"""Which names C's --function may not take, and why.

The generated C exports `F`, `F_batch`, `F_checked`, `F_selftest` (and `F_trees_*`, `F_tables_*`
for large models) and the macros `F_N_FEATURES`, `F_N_OUTPUTS`; every helper is static and
named `tp_*` / `TP_*`. So a name collides only with those prefixes, with what the headers the
code includes declare (<math.h>, <stdlib.h>, <string.h>, <stdio.h>, <stdint.h>, <stddef.h>),
with the names C reserves, or with a C++ keyword (the files also compile as C++).
"""
from __future__ import annotations

import re

CXX_KEYWORDS = frozenset("""alignas alignof and and_eq asm bitand bitor bool catch char8_t char16_t
char32_t class compl concept consteval constexpr constinit const_cast co_await co_return co_yield
decltype delete dynamic_cast explicit export false friend mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public reinterpret_cast requires static_assert
static_cast template this thread_local throw true try typeid typename using virtual wchar_t xor
xor_eq""".split())

# What the included headers declare: the C99 functions, types and macros, and the POSIX and
# GNU functions glibc also declares unless the build asks for strict ISO C.
_MATH = """acos asin atan atan2 cos sin tan acosh asinh atanh cosh sinh tanh exp exp2 expm1 frexp
ilogb ldexp log log10 log1p log2 logb modf scalbn scalbln cbrt fabs hypot pow sqrt erf erfc lgamma
tgamma ceil floor nearbyint rint lrint llrint round lround llround trunc fmod remainder remquo
copysign nan nextafter nexttoward fdim fmax fmin fma""".split()
MATH_FUNCTIONS = frozenset(_MATH + [f + s for f in _MATH for s in ("f", "l")])
LIBRARY = frozenset("""
float_t double_t HUGE_VAL HUGE_VALF HUGE_VALL INFINITY NAN FP_INFINITE FP_NAN FP_NORMAL
FP_SUBNORMAL FP_ZERO FP_FAST_FMA FP_FAST_FMAF FP_FAST_FMAL FP_ILOGB0 FP_ILOGBNAN MATH_ERRNO
MATH_ERREXCEPT math_errhandling fpclassify isfinite isinf isnan isnormal signbit isgreater
isgreaterequal isless islessequal islessgreater isunordered
j0 j1 jn y0 y1 yn gamma lgamma_r drem finite significand scalb matherr signgam
M_E M_LOG2E M_LOG10E M_LN2 M_LN10 M_PI M_PI_2 M_PI_4 M_1_PI M_2_PI M_2_SQRTPI M_SQRT2 M_SQRT1_2
size_t ptrdiff_t wchar_t max_align_t NULL offsetof
int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t int_least8_t int_least16_t
int_least32_t int_least64_t uint_least8_t uint_least16_t uint_least32_t uint_least64_t
int_fast8_t int_fast16_t int_fast32_t int_fast64_t uint_fast8_t uint_fast16_t uint_fast32_t
uint_fast64_t intptr_t uintptr_t intmax_t uintmax_t SIZE_MAX PTRDIFF_MIN PTRDIFF_MAX WCHAR_MIN
WCHAR_MAX WINT_MIN WINT_MAX SIG_ATOMIC_MIN SIG_ATOMIC_MAX
div_t ldiv_t lldiv_t EXIT_FAILURE EXIT_SUCCESS RAND_MAX MB_CUR_MAX atof atoi atol atoll strtod
strtof strtold strtol strtoll strtoul strtoull rand srand calloc free malloc realloc abort atexit
exit _Exit getenv system bsearch qsort abs labs llabs div ldiv lldiv mblen mbtowc wctomb mbstowcs
wcstombs aligned_alloc at_quick_exit quick_exit random srandom initstate setstate drand48 erand48
lrand48 nrand48 mrand48 jrand48 srand48 seed48 lcong48 rand_r mktemp mkstemp mkdtemp realpath
posix_memalign valloc alloca putenv setenv unsetenv clearenv ecvt fcvt gcvt a64l l64a getsubopt
grantpt unlockpt ptsname posix_openpt mkostemp
memcpy memmove strcpy strncpy strcat strncat memcmp strcmp strcoll strncmp strxfrm memchr strchr
strcspn strpbrk strrchr strspn strstr strtok memset strerror strlen strdup strndup strnlen
strsep strsignal stpcpy stpncpy bcopy bzero bcmp index rindex ffs strcasecmp strncasecmp
strtok_r memccpy
FILE fpos_t BUFSIZ EOF FILENAME_MAX FOPEN_MAX L_tmpnam SEEK_CUR SEEK_END SEEK_SET TMP_MAX
stderr stdin stdout remove rename tmpfile tmpnam fclose fflush fopen freopen setbuf setvbuf
fprintf fscanf printf scanf snprintf sprintf sscanf vfprintf vfscanf vprintf vscanf vsnprintf
vsprintf vsscanf fgetc fgets fputc fputs getc getchar gets putc putchar puts ungetc fread fwrite
fgetpos fseek fsetpos ftell rewind clearerr feof ferror perror fdopen fileno popen pclose
getline getdelim dprintf ctermid flockfile funlockfile ftrylockfile getc_unlocked
getchar_unlocked putc_unlocked putchar_unlocked fseeko ftello tempnam fmemopen open_memstream
renameat
""".split()) | MATH_FUNCTIONS

# C99 7.26 reserves these prefixes for the headers above (and <stdint.h>'s macro names).
RESERVED_PATTERNS = (
    (re.compile(r"_"), "begins with an underscore, which C reserves for the implementation"),
    (re.compile(r"(str|mem|wcs)[a-z]"), "begins like the C library's string functions (str*, mem*, wcs*), which C reserves"),
    (re.compile(r"u?int[a-z0-9_]*_t$"), "ends like <stdint.h>'s types, which C reserves"),
    (re.compile(r"U?INT[A-Z0-9_]*_(MAX|MIN|C)$"), "is shaped like <stdint.h>'s macros, which C reserves"),
    (re.compile(r"(tp|tr)(_|$)", re.I), "begins with tp_ or tr_, the prefixes of the generated code's own helpers"),
)


NEWER_C_KEYWORDS = frozenset("typeof typeof_unqual asm".split())     # GNU C and C23


def refusal(name: str) -> str | None:
    """Why `name` cannot be C's --function, or None when it can."""
    if name == "main":
        return "it is the program's entry point (selftest/model_selftest.c defines it)"
    if name in NEWER_C_KEYWORDS:
        return "it is a keyword in GNU C and C23"
    if name in LIBRARY:
        return f"the C library the generated code includes declares {name}"
    if name in CXX_KEYWORDS:
        return "it is a C++ keyword, and the .c files also compile as C++"
    for pattern, why in RESERVED_PATTERNS:
        if pattern.match(name):
            return f"it {why}"
    return None
