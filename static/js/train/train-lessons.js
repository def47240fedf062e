// The Train tab's lessons: each sets the form and starts training, with its text beside the stage.
// (Others may push more lessons onto TRAIN_LESSONS before the view is built.)

export const TRAIN_LESSONS = [
  {
    name: "filters-learned", title: "Filters are learned",
    text: "A convolution layer's kernels are not designed by hand: they start as random numbers and gradient descent "
      + "changes them until they help to tell digits apart. Train the course's small network cnn_1 for one epoch and "
      + "watch its first-layer filters (5×5, blue negative, red positive) change as it trains. Compare "
      + "them with the hand-made Sobel x and y edge detectors beside them: several learned filters end up as edge "
      + "or stroke detectors of their own, light on one side and dark on the other.",
    config: { model: "cnn_1", train_size: 2000, epochs: 1, batch_size: 128, optimizer: "rmsprop", learning_rate: 0.001,
      dropout: 0, batch_norm: false, augment: null, early_stopping: null, validation_split: 0.2, seed: 0 },
  },
  {
    name: "overfitting", title: "Overfitting: 200 digits, 30 epochs",
    text: "With only 160 digits to learn from (200, of which 40 are held out) and 30 passes over them, the network "
      + "learns those very digits by heart: training accuracy climbs towards 100% while validation accuracy, on digits "
      + "it never trained on, stays well below and the validation loss turns back up. The distance between the two "
      + "curves is overfitting. Then press the next lesson to try the remedies.",
    config: { model: "cnn_1_with_pooling", train_size: 200, epochs: 30, batch_size: 32, optimizer: "rmsprop",
      learning_rate: 0.001, dropout: 0, batch_norm: false, augment: null, early_stopping: null, validation_split: 0.2,
      seed: 0 },
  },
  {
    name: "overfitting-remedies", title: "Overfitting, remedied: dropout, augmentation, early stopping",
    text: "The same 200 digits and up to 30 epochs, now with the remedies: dropout (30% of the dense layer's inputs "
      + "zeroed at random while training), augmentation (each epoch sees every digit shifted by up to 2 pixels and "
      + "turned by up to 10°) and early stopping (stop when the validation loss has not improved for 5 epochs, keep "
      + "the best weights). Training accuracy rises more slowly and the gap to validation narrows: compare the runs "
      + "in the table under the progress bar.",
    config: { model: "cnn_1_with_pooling", train_size: 200, epochs: 30, batch_size: 32, optimizer: "rmsprop",
      learning_rate: 0.001, dropout: 0.3, batch_norm: false, augment: { shift: 2, rotate: 10 },
      early_stopping: { patience: 5, restore_best_weights: true }, validation_split: 0.2, seed: 0 },
  },
];
