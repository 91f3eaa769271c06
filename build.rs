//! Compiles the replication and cluster bus protocols in `proto/` with a pure-Rust protobuf
//! compiler, so building needs no `protoc` on the system.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(
        ["proto/replication.proto", "proto/cluster.proto"],
        ["proto"],
    )?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
