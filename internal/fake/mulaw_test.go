package fake

import "testing"

func TestMulawRoundTrip(t *testing.T) {
	for _, v := range []int16{0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 32000, -32000} {
		got := MulawToLinear(LinearToMulaw(v))
		diff := int(got) - int(v)
		if diff < 0 {
			diff = -diff
		}
		if tol := max(int(v)/16, -int(v)/16, 8); diff > tol {
			t.Fatalf("round trip %d -> %d", v, got)
		}
	}
	if MulawToLinear(0xFF) != 0 || MulawToLinear(0x7F) != 0 {
		t.Fatal("0xFF/0x7F must decode to 0")
	}
}

func TestProbeFrames(t *testing.T) {
	for _, seq := range []uint32{0, 1, 255, 0xDEADBEEF, 1 << 31} {
		f := EncodeProbeFrame(seq)
		if len(f) != FrameBytes {
			t.Fatalf("len = %d", len(f))
		}
		got, ok := DecodeProbeFrame(f)
		if !ok || got != seq {
			t.Fatalf("DecodeProbeFrame = %d, %v; want %d", got, ok, seq)
		}
		if MeanAbs(f) >= 500 {
			t.Fatalf("probe frame is loud: %d", MeanAbs(f))
		}
		f[8] ^= 0x01
		if _, ok := DecodeProbeFrame(f); ok {
			t.Fatal("corrupted probe decoded")
		}
	}
	for _, f := range [][]byte{SilenceFrame(), SpeechFrame(), nil} {
		if _, ok := DecodeProbeFrame(f); ok {
			t.Fatal("non-probe frame decoded")
		}
	}
	if MeanAbs(SpeechFrame()) <= 500 || MeanAbs(SilenceFrame()) != 0 {
		t.Fatalf("speech %d silence %d", MeanAbs(SpeechFrame()), MeanAbs(SilenceFrame()))
	}
}
