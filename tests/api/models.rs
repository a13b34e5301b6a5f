//! Models across formats: a trained job exported as safetensors agrees bit for bit with its JSON
//! export, its ONNX file runs in tract and predicts what `/predict` does on every built-in
//! dataset, imported models predict as their job did, refuse mismatched tensors by name, and
//! warm-start new jobs.

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

/// The first `limit` rows' raw features of a built-in dataset.
fn builtin_rows(name: &str, limit: usize) -> Vec<Vec<f32>> {
    let dataset = trainyard::data::builtin::load(name).expect("a built-in dataset");
    dataset
        .features
        .rows()
        .into_iter()
        .take(limit)
        .map(|row| row.to_vec())
        .collect()
}

/// Runs an ONNX file in tract on `rows` and returns its one output.
fn run_onnx(bytes: &[u8], rows: &[Vec<f32>]) -> tract_onnx::prelude::tract_ndarray::ArrayD<f32> {
    use tract_onnx::prelude::{
        Framework, InferenceModelExt, IntoRunnable, IntoTValue, tract_ndarray, tvec,
    };
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("the file parses")
        .into_optimized()
        .expect("the graph optimizes")
        .into_runnable()
        .expect("the graph runs");
    let width = rows[0].len();
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let input = tract_ndarray::Array2::from_shape_vec((rows.len(), width), flat).expect("a matrix");
    let result = model
        .run(tvec!(
            tract_onnx::prelude::Tensor::from(input).into_tvalue()
        ))
        .expect("inference");
    result[0]
        .to_plain_array_view::<f32>()
        .expect("f32 output")
        .to_owned()
}

/// Trains `spec`, exports it as ONNX, and checks tract's outputs against `/predict` on the
/// dataset's first `limit` rows, within 1e-5.
async fn onnx_matches_predict(app: &TestApp, spec: &Value, limit: usize) {
    let dataset = spec["data"]["name"].as_str().expect("a built-in dataset");
    let job = submit(app, spec).await;
    let id = job["id"].as_str().expect("an id").to_owned();
    let done = app.wait_until_finished(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "succeeded", "{dataset}: {done:#}");
    let (bytes, disposition) = file(
        app,
        &format!("/v1/jobs/{id}/model?format=onnx"),
        "application/onnx",
    )
    .await;
    assert!(disposition.ends_with(".onnx\""), "{disposition}");
    let rows = builtin_rows(dataset, limit);
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
    let output = run_onnx(&bytes, &rows);
    assert_eq!(
        output.shape(),
        &[rows.len(), expected[0].len()],
        "{dataset}: output shape"
    );
    let mut largest = 0.0f32;
    for (r, row) in expected.iter().enumerate() {
        for (c, &value) in row.iter().enumerate() {
            let onnx = output[[r, c]];
            largest = largest.max((onnx - value).abs());
            assert!(
                (onnx - value).abs() <= 1e-5,
                "{dataset} row {r} output {c}: onnx {onnx}, predict {value}"
            );
        }
    }
    eprintln!(
        "{dataset}: {} rows, largest |onnx - predict| = {largest:e}",
        rows.len()
    );
}

/// A spec for a built-in dataset with the given hidden layers and head.
fn builtin_spec(dataset: &str, hidden: Value, head: Value, loss: &str, epochs: u64) -> Value {
    let mut layers = hidden.as_array().expect("layers").clone();
    layers.push(head);
    json!({
        "name": format!("onnx-{dataset}"),
        "data": {"type": "builtin", "name": dataset, "validation_split": 0.2, "standardize": true},
        "architecture": {"layers": layers},
        "initializer": {"type": "he_normal"},
        "optimizer": {"type": "adam", "learning_rate": 0.01},
        "training": {"loss": loss, "batch_size": 64, "epochs": epochs, "seed": 11}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onnx_export_runs_in_tract_and_matches_predict_on_every_builtin_dataset() {
    let app = spawn_app().await;
    let softmax = |units: u64| json!({"type": "dense", "units": units, "activation": "softmax"});
    let sparse = "sparse_categorical_crossentropy";
    // Each dataset with a different mix of layers and activations, so that together they
    // cover every layer type; every row is predicted, MNIST's first 1000.
    let cases = [
        (
            builtin_spec(
                "iris",
                json!([
                    {"type": "dense", "units": 16, "activation": "relu"},
                    {"type": "batch_normalization"}
                ]),
                softmax(3),
                sparse,
                20,
            ),
            150,
        ),
        (
            builtin_spec(
                "wine",
                json!([
                    {"type": "dense", "units": 16, "activation": "tanh"},
                    {"type": "dropout", "rate": 0.2},
                    {"type": "residual", "layers": [
                        {"type": "dense", "units": 16, "activation": "selu"},
                        {"type": "dense", "units": 16, "activation": "linear"}
                    ]},
                    {"type": "activation", "activation": "swish"}
                ]),
                softmax(3),
                sparse,
                20,
            ),
            178,
        ),
        (
            builtin_spec(
                "breast_cancer",
                json!([
                    {"type": "dense", "units": 16, "activation": "elu"},
                    {"type": "batch_normalization"},
                    {"type": "dense", "units": 8, "activation": "softplus"}
                ]),
                json!({"type": "dense", "units": 1, "activation": "sigmoid"}),
                "binary_crossentropy",
                20,
            ),
            569,
        ),
        (
            builtin_spec(
                "digits",
                json!([
                    {"type": "dense", "units": 32, "activation": "gelu"},
                    {"type": "residual", "layers": [
                        {"type": "batch_normalization"},
                        {"type": "dense", "units": 32, "activation": "leaky_relu"}
                    ]}
                ]),
                softmax(10),
                sparse,
                5,
            ),
            1797,
        ),
        (
            builtin_spec(
                "mnist",
                json!([
                    {"type": "dense", "units": 32, "activation": "relu"},
                    {"type": "batch_normalization"},
                    {"type": "dense", "units": 16, "activation": "sigmoid"}
                ]),
                softmax(10),
                sparse,
                1,
            ),
            1000,
        ),
    ];
    for (spec, limit) in &cases {
        onnx_matches_predict(&app, spec, *limit).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_format_is_refused_naming_format() {
    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let refusal = problem(
        app.get(&format!("/v1/jobs/{id}/model?format=pickle")).await,
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
    )
    .await;
    assert_eq!(crate::support::error_paths(&refusal), ["format"]);
    // The request is checked before the job is looked up.
    problem(
        app.get("/v1/jobs/no-such-job/model?format=pickle").await,
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
    )
    .await;
    app.stop().await;
}

/// Imports `bytes` as a safetensors file.
async fn import_safetensors(app: &TestApp, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/models"))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_model_predicts_exactly_as_its_job_from_either_format() {
    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let inputs = json!({ "inputs": builtin_rows("iris", 150) });
    let by_job = body(
        app.post_json(&format!("/v1/jobs/{id}/predict"), &inputs)
            .await,
        StatusCode::OK,
    )
    .await;
    let (bytes, _) = file(
        &app,
        &format!("/v1/jobs/{id}/model?format=safetensors"),
        "application/octet-stream",
    )
    .await;
    let response = import_safetensors(&app, bytes).await;
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let from_file = body(response, StatusCode::CREATED).await;
    assert_eq!(
        location,
        format!("/v1/models/{}", from_file["id"].as_str().unwrap())
    );
    assert_eq!(from_file["parameter_count"], 131);
    assert_eq!(from_file["input_width"], 4);
    assert!(from_file["created_at"].is_string());
    assert_eq!(from_file["architecture"]["layers"][0]["units"], 16);

    let document = body(
        app.get(&format!("/v1/jobs/{id}/model?format=json")).await,
        StatusCode::OK,
    )
    .await;
    let from_json = body(
        app.post_json("/v1/models", &document).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(from_json["weights_sha256"], document["weights_sha256"]);
    assert_eq!(from_file["weights_sha256"], document["weights_sha256"]);

    for model in [&from_file, &from_json] {
        let model_id = model["id"].as_str().expect("an id");
        let shown = body(
            app.get(&format!("/v1/models/{model_id}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(&shown, model);
        let by_model = body(
            app.post_json(&format!("/v1/models/{model_id}/predict"), &inputs)
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(by_model, by_job, "model {model_id} predicts as job {id}");
    }

    // An imported model exports again, to the same tensors.
    let model_id = from_json["id"].as_str().expect("an id");
    let again = body(
        app.get(&format!("/v1/models/{model_id}?format=json")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["tensors"], document["tensors"]);
    let (onnx, _) = file(
        &app,
        &format!("/v1/models/{model_id}?format=onnx"),
        "application/onnx",
    )
    .await;
    assert!(!onnx.is_empty());

    let deleted = app.delete(&format!("/v1/models/{model_id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&format!("/v1/models/{model_id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_tensor_does_not_fit_the_architecture_is_refused_naming_it() {
    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let mut document = body(
        app.get(&format!("/v1/jobs/{id}/model?format=json")).await,
        StatusCode::OK,
    )
    .await;
    // The kernel of the output layer as [3, 16] instead of [16, 3].
    let tensors = document["tensors"].as_array_mut().expect("tensors");
    let kernel = tensors
        .iter_mut()
        .find(|t| t["name"] == "layers.1.kernel")
        .expect("the output kernel");
    kernel["shape"] = json!([3, 16]);
    let refusal = problem(
        app.post_json("/v1/models", &document).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(
        crate::support::error_paths(&refusal),
        ["tensors.layers.1.kernel"]
    );

    // A safetensors file of another architecture's tensors: the metadata claims 16 hidden units,
    // the file holds 8.
    let (bytes, _) = file(
        &app,
        &format!("/v1/jobs/{id}/model?format=safetensors"),
        "application/octet-stream",
    )
    .await;
    let original = safetensors::SafeTensors::deserialize(&bytes).expect("a file");
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).expect("a header");
    let metadata = header.metadata().clone();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = original
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec(), view.data().to_vec()))
        .collect();
    for (name, shape, data) in &mut tensors {
        if name == "layers.0.bias" {
            *shape = vec![8];
            data.truncate(8 * 4);
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .expect("a view");
            (name.clone(), view)
        })
        .collect();
    let forged = safetensors::serialize(views, metadata).expect("bytes");
    let refusal = problem(
        import_safetensors(&app, forged).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(
        crate::support::error_paths(&refusal),
        ["tensors.layers.0.bias"]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_wider_than_any_model_is_refused_and_the_widest_predicts_only_whole_rows() {
    let app = spawn_app().await;
    let parameter_free = |width: u64| {
        json!({
            "format": "trainyard.model.v1",
            "architecture": {"layers": []},
            "input_width": width,
            "tensors": []
        })
    };
    let refusal = problem(
        app.post_json("/v1/models", &parameter_free(100_000_000_000))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(crate::support::error_paths(&refusal), ["input_width"]);

    // The widest model there may be: a short row is refused before anything is sized by the
    // width, and a whole row comes back as it went in.
    let imported = body(
        app.post_json("/v1/models", &parameter_free(65_536)).await,
        StatusCode::CREATED,
    )
    .await;
    let predict = format!(
        "/v1/models/{}/predict",
        imported["id"].as_str().expect("an id")
    );
    let refusal = problem(
        app.post_json(&predict, &json!({"inputs": [[1.0]]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(crate::support::error_paths(&refusal), ["inputs[0]"]);
    let row: Vec<f32> = (0..65_536).map(|i| i as f32).collect();
    let predicted = body(
        app.post_json(&predict, &json!({"inputs": [row]})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(predicted["outputs"][0][65_535], 65_535.0);

    // Finite features that overflow inside the network have no prediction: 10 · 3e38.
    let scaling = body(
        app.post_json(
            "/v1/models",
            &json!({
                "format": "trainyard.model.v1",
                "architecture": {"layers": [{"type": "dense", "units": 1, "activation": "linear"}]},
                "input_width": 1,
                "tensors": [
                    {"name": "layers.0.kernel", "shape": [1, 1], "values": [3e38]},
                    {"name": "layers.0.bias", "shape": [1], "values": [0.0]}
                ]
            }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let predict = format!(
        "/v1/models/{}/predict",
        scaling["id"].as_str().expect("an id")
    );
    let refusal = problem(
        app.post_json(&predict, &json!({"inputs": [[0.5], [10.0]]}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
    )
    .await;
    assert_eq!(crate::support::error_paths(&refusal), ["inputs[1]"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_warm_starts_from_an_imported_model() {
    let app = spawn_app().await;
    let id = trained_iris_job(&app).await;
    let document = body(
        app.get(&format!("/v1/jobs/{id}/model?format=json")).await,
        StatusCode::OK,
    )
    .await;
    let model = body(
        app.post_json("/v1/models", &document).await,
        StatusCode::CREATED,
    )
    .await;
    let model_id = model["id"].as_str().expect("an id");

    // Zero epochs: the job's model is its initialization, which must be the imported weights.
    let mut spec = iris_spec(0);
    spec["initializer"] = json!({"type": "from_model", "model_id": model_id});
    let job = submit(&app, &spec).await;
    let warm = job["id"].as_str().expect("an id");
    let done = app.wait_until_finished(warm, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["weights_sha256"], document["weights_sha256"]);

    // And it trains on from there.
    let mut spec = iris_spec(5);
    spec["initializer"] = json!({"type": "from_model", "model_id": model_id});
    let job = submit(&app, &spec).await;
    let trained = job["id"].as_str().expect("an id");
    let done = app
        .wait_until_finished(trained, Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_ne!(done["weights_sha256"], document["weights_sha256"]);

    spec["initializer"]["model_id"] = json!("no-such-model");
    let refusal = problem(
        app.post_json("/v1/jobs", &spec).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-spec",
    )
    .await;
    assert_eq!(
        crate::support::error_paths(&refusal),
        ["initializer.model_id"]
    );

    // Weights that are not the architecture's are refused at submit, from the model and from
    // the job alike: 8 hidden units here, 16 in the source.
    for initializer in [
        json!({"type": "from_model", "model_id": model_id}),
        json!({"type": "from_job", "job_id": id}),
    ] {
        let mut spec = iris_spec(5);
        spec["architecture"]["layers"][0]["units"] = json!(8);
        spec["initializer"] = initializer.clone();
        let refusal = problem(
            app.post_json("/v1/jobs", &spec).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-spec",
        )
        .await;
        let field = if initializer["type"] == "from_job" {
            "initializer.job_id"
        } else {
            "initializer.model_id"
        };
        assert_eq!(crate::support::error_paths(&refusal), [field]);
        assert!(
            refusal
                .to_string()
                .contains("layers.0.kernel has shape [4, 16]"),
            "{refusal:#}"
        );
    }
    app.stop().await;
}
