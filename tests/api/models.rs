//! Models across formats: a trained job exported as safetensors agrees bit for bit with its JSON
//! export, its ONNX file runs in tract and predicts what `/predict` does, imported models
//! predict as their job did, refuse mismatched tensors by name, and warm-start new jobs.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::jobs::{iris_spec, submit};
use crate::support::{TestApp, body, problem, spawn_app};

/// Trains the API.md iris example for a few epochs and returns its id.
async fn trained_iris_job(app: &TestApp) -> String {
    let job = submit(app, &iris_spec(20)).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    let done = app.wait_until_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    id
}

/// The response's bytes, after checking its status and content type.
async fn file(app: &TestApp, path: &str, content_type: &str) -> (Vec<u8>, String) {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(response.headers()["content-type"], content_type);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let bytes = response.bytes().await.expect("a body").to_vec();
    (bytes, disposition)
}

/// Every iris row's raw features.
fn iris_rows() -> Vec<Vec<f32>> {
    let iris = trainyard::data::builtin::load("iris").expect("iris is built in");
    iris.features
        .rows()
        .into_iter()
        .map(|row| row.to_vec())
        .collect()
}

fn outputs(prediction: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(prediction["outputs"].clone()).expect("rows of numbers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safetensors_export_holds_the_json_exports_tensors_bit_for_bit() {
    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let model = body(
        app.get(&format!("/v1/jobs/{id}/model?format=json")).await,
        StatusCode::OK,
    )
    .await;
    let (bytes, disposition) = file(
        &app,
        &format!("/v1/jobs/{id}/model?format=safetensors"),
        "application/octet-stream",
    )
    .await;
    assert_eq!(
        disposition,
        format!("attachment; filename=\"trainyard-job-{id}.safetensors\"")
    );
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let tensors = model["tensors"].as_array().expect("tensors");
    // 2 kernels, 2 biases and the standardization's mean and std.
    assert_eq!(file.len(), tensors.len() + 2);
    for tensor in tensors {
        let name = tensor["name"].as_str().expect("a name");
        let view = file.tensor(name).expect("every JSON tensor is in the file");
        let shape: Vec<usize> = serde_json::from_value(tensor["shape"].clone()).expect("a shape");
        assert_eq!(view.shape(), shape.as_slice(), "{name}");
        assert_eq!(view.dtype(), safetensors::Dtype::F32);
        let values: Vec<f32> = serde_json::from_value(tensor["values"].clone()).expect("values");
        let from_file: Vec<u32> = view
            .data()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let from_json: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(from_file, from_json, "{name}");
    }
    for (name, key) in [
        ("standardization.mean", "mean"),
        ("standardization.std", "std"),
    ] {
        let view = file.tensor(name).expect("the standardization is exported");
        let values: Vec<f32> =
            serde_json::from_value(model["standardization"][key].clone()).expect("values");
        let from_file: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(from_file, values, "{name}");
    }
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).expect("a header");
    let metadata = metadata.metadata().clone().expect("trainyard metadata");
    assert_eq!(metadata["format"], "trainyard");
    assert_eq!(metadata["input_width"], "4");
    assert_eq!(metadata["job_id"], id);
    assert_eq!(
        metadata["class_names"],
        r#"["setosa","versicolor","virginica"]"#
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onnx_export_runs_in_tract_and_matches_predict_on_iris() {
    use tract_onnx::prelude::{
        Framework, InferenceModelExt, IntoRunnable, IntoTValue, tract_ndarray, tvec,
    };

    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let (bytes, disposition) = file(
        &app,
        &format!("/v1/jobs/{id}/model?format=onnx"),
        "application/onnx",
    )
    .await;
    assert!(disposition.ends_with(".onnx\""), "{disposition}");
    let rows = iris_rows();
    let predicted = body(
        app.post_json(
            &format!("/v1/jobs/{id}/predict"),
            &json!({ "inputs": rows }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let expected = outputs(&predicted);

    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("the file parses")
        .into_optimized()
        .expect("the graph optimizes")
        .into_runnable()
        .expect("the graph runs");
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let input = tract_ndarray::Array2::from_shape_vec((rows.len(), 4), flat).expect("150 × 4");
    let result = model
        .run(tvec!(
            tract_onnx::prelude::Tensor::from(input).into_tvalue()
        ))
        .expect("inference");
    let output = result[0].to_plain_array_view::<f32>().expect("f32 output");
    assert_eq!(output.shape(), &[150, 3]);
    for (r, row) in expected.iter().enumerate() {
        for (c, &value) in row.iter().enumerate() {
            let onnx = output[[r, c]];
            assert!(
                (onnx - value).abs() <= 1e-5,
                "row {r} class {c}: onnx {onnx}, predict {value}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_format_is_refused_naming_format() {
    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let refusal = problem(
        app.get(&format!("/v1/jobs/{id}/model?format=pickle")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert!(refusal.to_string().contains("format"), "{refusal}");
    app.stop().await;
}
