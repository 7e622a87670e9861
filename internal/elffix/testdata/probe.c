/* probe.c: the shared objects of the normalization tests are built from
 * this file with different --build-id options. */
__attribute__((noinline)) int probe_fn(int x) { return x * 7 + 3; }

#ifdef SECOND_NOTE
/* A second GNU build-ID note of 20 bytes after the linker's (32-byte) one,
 * in the same PT_NOTE: the kernel skips IDs over 20 bytes and reports this
 * one; a reader taking the first GNU note reports the linker's. */
__asm__(".pushsection .note.zz,\"a\",@note\n"
	".balign 4\n"
	".long 4\n.long 20\n.long 3\n.asciz \"GNU\"\n"
	".byte 0x5e,0xc0,0x4d,0x00,0x11,0x22,0x33,0x44,0x55,0x66\n"
	".byte 0x77,0x88,0x99,0xaa,0xbb,0xcc,0xdd,0xee,0xff,0x01\n"
	".popsection\n");
#endif
