package fake

import "math"

// FrameBytes is the size of one 20 ms mu-law frame at 8 kHz mono, the unit
// Twilio Media Streams send.
const FrameBytes = 160

// BytesPerMs is the mu-law byte rate: 8000 samples/s, one byte per sample.
const BytesPerMs = 8

// ulawTable maps every mu-law byte to its 16-bit linear sample.
var ulawTable = func() (t [256]int16) {
	for i := range t {
		u := ^byte(i)
		exp := (u >> 4) & 0x07
		mant := int(u & 0x0F)
		mag := ((mant << 3) + 0x84) << exp
		mag -= 0x84
		if u&0x80 != 0 {
			t[i] = int16(-mag)
		} else {
			t[i] = int16(mag)
		}
	}
	return t
}()

// MulawToLinear decodes one G.711 mu-law byte to a 16-bit linear sample.
func MulawToLinear(u byte) int16 { return ulawTable[u] }

// LinearToMulaw encodes a 16-bit linear sample as G.711 mu-law.
func LinearToMulaw(sample int16) byte {
	const bias, clip = 0x84, 32635
	s := int(sample)
	var sign byte
	if s < 0 {
		sign = 0x80
		s = -s
	}
	if s > clip {
		s = clip
	}
	s += bias
	exp := byte(7)
	for mask := 0x4000; exp > 0 && s&mask == 0; mask >>= 1 {
		exp--
	}
	mant := byte(s>>(exp+3)) & 0x0F
	return ^(sign | exp<<4 | mant)
}

// MeanAbs returns the mean absolute linear amplitude of a mu-law buffer,
// the measure the fake Realtime VAD compares with its threshold.
func MeanAbs(mulaw []byte) int {
	if len(mulaw) == 0 {
		return 0
	}
	sum := 0
	for _, b := range mulaw {
		v := int(ulawTable[b])
		if v < 0 {
			v = -v
		}
		sum += v
	}
	return sum / len(mulaw)
}

var (
	silenceFrame = func() []byte {
		f := make([]byte, FrameBytes)
		for i := range f {
			f[i] = 0xFF
		}
		return f
	}()
	// speechFrame is a 400 Hz tone at about a quarter of full scale: 20
	// samples per period, so eight whole periods fill one frame and frames
	// can be repeated without clicks.
	speechFrame = func() []byte {
		f := make([]byte, FrameBytes)
		for i := range f {
			f[i] = LinearToMulaw(int16(8000 * math.Sin(2*math.Pi*float64(i)/20)))
		}
		return f
	}()
)

// SilenceFrame returns a new 20 ms frame of mu-law digital silence (0xFF).
func SilenceFrame() []byte { return append([]byte(nil), silenceFrame...) }

// SpeechFrame returns a new 20 ms frame the fake Realtime VAD classifies as
// speech (a loud 400 Hz tone).
func SpeechFrame() []byte { return append([]byte(nil), speechFrame...) }

// probeMagic marks a probe frame. Every probe byte is 0xF0|nibble, the
// quietest positive mu-law codes, so a probe frame is silence to the VAD.
var probeMagic = [6]byte{0xFA, 0xF5, 0xFA, 0xF5, 0xF3, 0xFC}

const probeHeader = len(probeMagic) + 8 + 2

// EncodeProbeFrame returns a 160-byte mu-law frame carrying seq, so that a
// receiver can match frames sent through a relay for latency measurements.
// The frame sounds like (and is classified as) silence.
func EncodeProbeFrame(seq uint32) []byte {
	f := make([]byte, FrameBytes)
	PutProbeFrame(f, seq)
	return f
}

// PutProbeFrame writes a probe frame carrying seq into f, which must be at
// least FrameBytes long; only the first FrameBytes bytes are written.
func PutProbeFrame(f []byte, seq uint32) {
	f = f[:FrameBytes]
	copy(f, probeMagic[:])
	var check byte
	for i := range 8 {
		n := byte(seq>>(28-4*i)) & 0x0F
		check ^= n
		f[len(probeMagic)+i] = 0xF0 | n
	}
	f[probeHeader-2] = 0xF0 | check
	f[probeHeader-1] = 0xF0 | (^check & 0x0F)
	for i := probeHeader; i < FrameBytes; i++ {
		f[i] = 0xFF
	}
}

// DecodeProbeFrame extracts the sequence number from a frame built by
// EncodeProbeFrame. It reports false for any other audio.
func DecodeProbeFrame(f []byte) (uint32, bool) {
	if len(f) < probeHeader {
		return 0, false
	}
	for i, m := range probeMagic {
		if f[i] != m {
			return 0, false
		}
	}
	var seq uint32
	var check byte
	for i := range 8 {
		b := f[len(probeMagic)+i]
		if b&0xF0 != 0xF0 {
			return 0, false
		}
		check ^= b & 0x0F
		seq = seq<<4 | uint32(b&0x0F)
	}
	if f[probeHeader-2] != 0xF0|check || f[probeHeader-1] != 0xF0|(^check&0x0F) {
		return 0, false
	}
	return seq, true
}
