// The Java proof: prints the digest of trExp and trExpf over the sample of proof.c (`proof sum`).
// tests/test_libm.py puts the rendered templates/java/libm.j2 where the marker line is.
public final class Proof {
    // LIBM

    private static long rngState;

    private static long nextU64() {
        rngState += 0x9e3779b97f4a7c15L;
        long z = rngState;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static final long[] LO = {0x3c3, 0x3ff, 0x3f5};
    private static final long[] SPAN = {74, 10, 15};

    private static double sample(long i) {
        long u = nextU64();
        int k = (int) (i % 3);
        u = (u & 0x800fffffffffffffL) | ((LO[k] + Long.remainderUnsigned(u >>> 52, SPAN[k])) << 52);
        return Double.longBitsToDouble(u);
    }

    private static float sampleF() {
        long u = nextU64();
        int b = ((int) u & 0x807fffff) | (int) ((0x61 + Long.remainderUnsigned(u >>> 40, 38)) << 23);
        return Float.intBitsToFloat(b);
    }

    public static void main(String[] args) {
        long n = Long.parseLong(args[0]);
        rngState = Long.parseUnsignedLong(args[1]);
        long digest = 0;
        for (long i = 0; i < n; i++) {
            double x = sample(i);
            float xf = sampleF();
            digest = (digest ^ Double.doubleToRawLongBits(trExp(x))) * 0x100000001b3L;
            digest = (digest ^ (Float.floatToRawIntBits(trExpf(xf)) & 0xffffffffL)) * 0x100000001b3L;
        }
        System.out.printf("digest %016x%n", digest);
    }
}
