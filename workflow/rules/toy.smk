# Part 1 of the post: train the toy model, then reload it in a fresh process and predict.


rule train_toy:
    output:
        checkpoint=toy_file("checkpoint.pt"),
        losses=toy_file("losses.csv"),
        evals=toy_file("evals.csv"),
    log:
        toy_file("train.log"),
    script:
        entry_script("train_toy")


rule predict_toy:
    input:
        checkpoint=toy_file("checkpoint.pt"),
    output:
        toy_file("predictions.csv"),
    log:
        toy_file("predict.log"),
    script:
        entry_script("predict_toy")
