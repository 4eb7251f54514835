package ref

// Version is the reference log's version, reported by its adapter.
const Version = "0.1.0"
