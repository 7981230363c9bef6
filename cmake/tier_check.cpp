// The tier checks' program: it does nothing. Linking it with one tier of the library whole (every object
// file, used or not) and only the tiers below that one fails if the tier refers to anything above it.
int main() { return 0; }
