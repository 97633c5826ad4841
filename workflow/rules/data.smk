rule make_dataset:
    output:
        "results/datasets/scale{scale}/{key}.pt",
    log:
        "results/datasets/scale{scale}/{key}.log",
    params:
        data=dataset_settings,
    script:
        "../scripts/make_dataset.py"
