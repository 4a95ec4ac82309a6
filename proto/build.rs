//! Compiles `bordermesh/**/*.proto` with protox (no system `protoc`) and writes the file
//! descriptor set beside the generated code for server reflection and JSON transcoding.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTO_FILES: &[&str] = &[
    "bordermesh/common/v1/common.proto",
    "bordermesh/identity/v1/identity.proto",
    "bordermesh/customs/v1/customs.proto",
    "bordermesh/sanitary/v1/sanitary.proto",
    "bordermesh/crossing/v1/crossing.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTO_FILES, ["."])?;
    fs::write(
        out_dir.join("bordermesh_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=bordermesh");
    Ok(())
}
