! mlp.f90 — the mlp library from Fortran (iso_c_binding).
!
! A network is a type(mlp_network). Its inputs are a Fortran array
! x(n_in, batch): column-major, which is exactly the library's row-major
! batch × n_in, so nothing is copied or transposed; outputs are y(n_out,
! batch). Every call gives a status, an integer: MLP_OK (0) or the library's
! status, whose meaning mlp_status_text gives; calls that read or write a
! file give the library's message too.
!
!   use mlp
!   type(mlp_network) :: net
!   integer :: status
!   character(len=256) :: message
!   call mlp_load(net, "model.safetensors", status, message)
!   call mlp_run(net, x, y, status)
!   call mlp_free(net)
module mlp
  use, intrinsic :: iso_c_binding
  implicit none
  private

  public :: mlp_network, mlp_train_opts
  public :: mlp_create, mlp_load, mlp_save, mlp_free, mlp_run, mlp_train
  public :: mlp_train_defaults, mlp_inputs, mlp_outputs, mlp_status_text
  public :: MLP_OK, MLP_LOSS_MSE, MLP_LOSS_XENT, MLP_OPTIM_SGD, MLP_OPTIM_ADAM

  integer, parameter :: MLP_OK = 0
  integer(c_int), parameter :: MLP_LOSS_MSE = 0, MLP_LOSS_XENT = 1
  integer(c_int), parameter :: MLP_OPTIM_SGD = 0, MLP_OPTIM_ADAM = 1
  integer, parameter :: MAX_LAYERS = 4096

  ! mlp_train_opts of mlp.h, field for field: the library checks
  ! struct_size, so a layout that differed would be refused, not misread.
  type, bind(c) :: mlp_train_opts
    integer(c_size_t) :: struct_size
    integer(c_int) :: loss, optim
    real(c_float) :: lr, momentum
    integer(c_int) :: nesterov
    real(c_float) :: beta1, beta2, eps, weight_decay, clip_norm
    integer(c_int) :: precision
    type(c_ptr) :: comm
    integer(c_size_t) :: batch_size, epochs
    integer(c_int64_t) :: seed
    integer(c_int) :: drop_last, sharded
    integer(c_size_t) :: eval_n
    type(c_ptr) :: eval_x, eval_y
    type(c_funptr) :: on_step, on_epoch
    type(c_ptr) :: user, checkpoint
    integer(c_size_t) :: checkpoint_every
    type(c_ptr) :: resume
    integer(c_int) :: schedule
    integer(c_size_t) :: step_every
    real(c_float) :: step_factor
    integer(c_size_t) :: warmup
    real(c_float) :: val_fraction
    integer(c_size_t) :: patience
    integer(c_int) :: keep_best
  end type

  type :: mlp_network
    type(c_ptr) :: net = c_null_ptr
    type(c_ptr) :: ws = c_null_ptr
    integer(c_size_t) :: ws_rows = 0
  end type

  type, bind(c) :: c_msg
    character(kind=c_char) :: text(256)
  end type

  interface
    integer(c_int) function c_net_create(out, n_layers, sizes, acts) &
        bind(c, name="mlp_net_create")
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), intent(out) :: out
      integer(c_size_t), value :: n_layers
      integer(c_size_t), intent(in) :: sizes(*)
      integer(c_int), intent(in) :: acts(*)
    end function
    integer(c_int) function c_net_init(net, seed) bind(c, name="mlp_net_init")
      import :: c_ptr, c_int64_t, c_int
      type(c_ptr), value :: net
      integer(c_int64_t), value :: seed
    end function
    integer(c_int) function c_act_parse_list(list, acts, max, count, msg) &
        bind(c, name="mlp_act_parse_list")
      import :: c_char, c_int, c_size_t, c_msg
      character(kind=c_char), intent(in) :: list(*)
      integer(c_int), intent(out) :: acts(*)
      integer(c_size_t), value :: max
      integer(c_size_t), intent(out) :: count
      type(c_msg), intent(out) :: msg
    end function
    integer(c_int) function c_net_load(out, path, opts, msg) &
        bind(c, name="mlp_net_load")
      import :: c_ptr, c_char, c_int, c_msg
      type(c_ptr), intent(out) :: out
      character(kind=c_char), intent(in) :: path(*)
      type(c_ptr), value :: opts
      type(c_msg), intent(out) :: msg
    end function
    integer(c_int) function c_net_save(net, path, msg) bind(c, name="mlp_net_save")
      import :: c_ptr, c_char, c_int, c_msg
      type(c_ptr), value :: net
      character(kind=c_char), intent(in) :: path(*)
      type(c_msg), intent(out) :: msg
    end function
    subroutine c_net_free(net) bind(c, name="mlp_net_free")
      import :: c_ptr
      type(c_ptr), value :: net
    end subroutine
    pure integer(c_size_t) function c_net_layers(net) bind(c, name="mlp_net_layers")
      import :: c_ptr, c_size_t
      type(c_ptr), value :: net
    end function
    pure integer(c_size_t) function c_net_width(net, i) bind(c, name="mlp_net_width")
      import :: c_ptr, c_size_t
      type(c_ptr), value :: net
      integer(c_size_t), value :: i
    end function
    integer(c_int) function c_workspace_create(out, net, max_batch) &
        bind(c, name="mlp_workspace_create")
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), intent(out) :: out
      type(c_ptr), value :: net
      integer(c_size_t), value :: max_batch
    end function
    subroutine c_workspace_free(ws) bind(c, name="mlp_workspace_free")
      import :: c_ptr
      type(c_ptr), value :: ws
    end subroutine
    integer(c_int) function c_forward(net, ws, batch, x, y) &
        bind(c, name="mlp_forward")
      import :: c_ptr, c_size_t, c_float, c_int
      type(c_ptr), value :: net, ws
      integer(c_size_t), value :: batch
      real(c_float), intent(in) :: x(*)
      real(c_float), intent(out) :: y(*)
    end function
    integer(c_int) function c_train(net, opts, n, x, y) bind(c, name="mlp_train")
      import :: c_ptr, c_size_t, c_float, c_int, mlp_train_opts
      type(c_ptr), value :: net
      type(mlp_train_opts), intent(in) :: opts
      integer(c_size_t), value :: n
      real(c_float), intent(in) :: x(*), y(*)
    end function
    integer(c_int) function c_train_opts_init(opts, size) &
        bind(c, name="mlp_train_opts_init")
      import :: c_size_t, c_int, mlp_train_opts
      type(mlp_train_opts), intent(out) :: opts
      integer(c_size_t), value :: size
    end function
    type(c_ptr) function c_strerror(s) bind(c, name="mlp_strerror")
      import :: c_ptr, c_int
      integer(c_int), value :: s
    end function
  end interface

contains

  ! A Fortran string as a NUL-terminated C string.
  function c_string(s) result(c)
    character(len=*), intent(in) :: s
    character(kind=c_char) :: c(len_trim(s) + 1)
    integer :: i
    do i = 1, len_trim(s)
      c(i) = s(i:i)
    end do
    c(len_trim(s) + 1) = c_null_char
  end function

  ! A message of the library into a Fortran string.
  subroutine from_msg(msg, message)
    type(c_msg), intent(in) :: msg
    character(len=*), intent(out) :: message
    integer :: i
    message = ' '
    do i = 1, min(len(message), size(msg%text))
      if (msg%text(i) == c_null_char) exit
      message(i:i) = msg%text(i)
    end do
  end subroutine

  ! The description of a status (mlp_strerror).
  function mlp_status_text(status) result(text)
    integer, intent(in) :: status
    character(len=80) :: text
    character(kind=c_char), pointer :: p(:)
    integer :: i
    call c_f_pointer(c_strerror(int(status, c_int)), p, [80])
    text = ' '
    do i = 1, 80
      if (p(i) == c_null_char) exit
      text(i:i) = p(i)
    end do
  end function

  ! A new network of widths sizes (input first) and activations acts
  ! ("relu,softmax"), its weights drawn from seed (mlp_net_init).
  subroutine mlp_create(net, sizes, acts, seed, status)
    type(mlp_network), intent(inout) :: net
    integer, intent(in) :: sizes(:)
    character(len=*), intent(in) :: acts
    integer(c_int64_t), intent(in) :: seed
    integer, intent(out) :: status
    integer(c_int) :: codes(MAX_LAYERS)
    integer(c_size_t) :: count
    type(c_msg) :: msg
    call mlp_free(net)
    status = c_act_parse_list(c_string(acts), codes, int(MAX_LAYERS, c_size_t), &
                              count, msg)
    if (status /= MLP_OK) return
    status = c_net_create(net%net, int(size(sizes) - 1, c_size_t), &
                          int(sizes, c_size_t), codes)
    if (status == MLP_OK) status = c_net_init(net%net, seed)
  end subroutine

  ! The network of a model file; message says why when it cannot.
  subroutine mlp_load(net, path, status, message)
    type(mlp_network), intent(inout) :: net
    character(len=*), intent(in) :: path
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    type(c_msg) :: msg
    call mlp_free(net)
    status = c_net_load(net%net, c_string(path), c_null_ptr, msg)
    call from_msg(msg, message)
  end subroutine

  subroutine mlp_save(net, path, status, message)
    type(mlp_network), intent(in) :: net
    character(len=*), intent(in) :: path
    integer, intent(out) :: status
    character(len=*), intent(out) :: message
    type(c_msg) :: msg
    status = c_net_save(net%net, c_string(path), msg)
    call from_msg(msg, message)
  end subroutine

  subroutine mlp_free(net)
    type(mlp_network), intent(inout) :: net
    call c_workspace_free(net%ws)
    call c_net_free(net%net)
    net%ws = c_null_ptr
    net%net = c_null_ptr
    net%ws_rows = 0
  end subroutine

  pure integer function mlp_inputs(net)
    type(mlp_network), intent(in) :: net
    mlp_inputs = int(c_net_width(net%net, 0_c_size_t))
  end function

  pure integer function mlp_outputs(net)
    type(mlp_network), intent(in) :: net
    mlp_outputs = int(c_net_width(net%net, c_net_layers(net%net)))
  end function

  ! Whether x holds columns of the network's inputs and y as many of its
  ! outputs.
  pure logical function fits(net, x, y)
    type(mlp_network), intent(in) :: net
    real(c_float), intent(in) :: x(:, :), y(:, :)
    fits = size(x, 1) == mlp_inputs(net) .and. size(y, 1) == mlp_outputs(net) &
           .and. size(y, 2) == size(x, 2)
  end function

  ! y(:, j) = the network's outputs for x(:, j): x(n_in, batch) and
  ! y(n_out, batch). The workspace is made once, for the largest batch.
  subroutine mlp_run(net, x, y, status)
    type(mlp_network), intent(inout) :: net
    real(c_float), intent(in) :: x(:, :)
    real(c_float), intent(out) :: y(:, :)
    integer, intent(out) :: status
    integer(c_size_t) :: batch
    batch = int(size(x, 2), c_size_t)
    if (.not. fits(net, x, y)) then
      status = 2 ! MLP_ESIZE
      return
    end if
    if (batch > net%ws_rows) then
      call c_workspace_free(net%ws)
      net%ws = c_null_ptr
      net%ws_rows = 0
      status = c_workspace_create(net%ws, net%net, batch)
      if (status /= MLP_OK) return
      net%ws_rows = batch
    end if
    status = c_forward(net%net, net%ws, batch, x, y)
  end subroutine

  ! The defaults of mlp_train_defaults(), for this layout of the options.
  function mlp_train_defaults() result(opts)
    type(mlp_train_opts) :: opts
    integer(c_int) :: status
    opts%struct_size = 0
    status = c_train_opts_init(opts, int(c_sizeof(opts), c_size_t))
  end function

  ! Trains net on the columns of x (inputs) and y (targets) with opts.
  subroutine mlp_train(net, x, y, opts, status)
    type(mlp_network), intent(inout) :: net
    real(c_float), intent(in) :: x(:, :), y(:, :)
    type(mlp_train_opts), intent(in) :: opts
    integer, intent(out) :: status
    if (.not. fits(net, x, y)) then
      status = 2 ! MLP_ESIZE
      return
    end if
    status = c_train(net%net, opts, int(size(x, 2), c_size_t), x, y)
  end subroutine

end module mlp
